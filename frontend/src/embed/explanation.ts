/**
 * What an embedded cell says when it cannot have a kernel: what happened and what to do, in
 * words for the page's readers and its author. The common causes on a third-party page are
 * the deployment's settings (`cors_origins`, `allow_anonymous`) and its per-client limit, none
 * of which the browser tells a script about except through the status or, for CORS, not at all
 * (kernel/reachability.ts finds that out).
 */
import { KernelsApiError } from "../kernel/rest";

function retryHint(seconds: number | null): string {
  if (seconds === null) return "Close other pages that use it, or try again later.";
  return `Try again in ${seconds} s.`;
}

/** Why the kernel of a cell served by `hubUrl` failed, or null for a failure of another kind. */
export function explainFailure(failure: unknown, hubUrl: string, withToken: boolean): string | null {
  if (!(failure instanceof KernelsApiError)) return null;
  const hub = new URL(hubUrl, location.href).href;
  if (failure.noAnswer === "origin-not-allowed") {
    return (
      `The cellhub at ${hub} does not accept cells from this page's origin, ${location.origin}: ` +
      `add "${location.origin}" to the cellhub's cors_origins setting.`
    );
  }
  if (failure.noAnswer === "unreachable") {
    return `The cellhub at ${hub} cannot be reached: it may be down, or the network or this page's Content-Security-Policy blocks it. Try again later.`;
  }
  switch (failure.status) {
    case 429:
      return `The cellhub at ${hub} has no kernel to spare for this page: ${failure.detail}. ${retryHint(failure.retryAfter)}`;
    case 403:
      return withToken
        ? `The cellhub at ${hub} refused the token this page gives (${failure.detail}).`
        : `The cellhub at ${hub} is not open to anonymous use: its admin can set allow_anonymous = true, or the page can give a token (cellhub.init({token})).`;
    default:
      return `The cellhub at ${hub} answered ${failure.status}: ${failure.detail}.`;
  }
}
