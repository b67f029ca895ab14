/**
 * Why a request to the hub got no answer the page could read. A browser rejects `fetch` with the
 * same TypeError whether the hub is down or answered without allowing the page's origin (CORS),
 * and names the cause only in its console. Two probes of `GET api` tell the cases apart: it is
 * public, needs no credentials, and is a "simple" request (no preflight), so
 *
 * - in `cors` mode it succeeds only when the hub answers *and* allows this page's origin;
 * - in `no-cors` mode it succeeds, with an opaque response, whenever the hub answers at all.
 *
 * The cors probe failing and the no-cors one succeeding means the origin is not allowed; both
 * failing, that the hub cannot be reached (down, or blocked by the network or the page's
 * Content-Security-Policy). When the cors probe succeeds the hub is up and allows the origin
 * now, so the request was lost on the way: unreachable too, for that moment. The probes run
 * only after a failure, so a working page never pays for them.
 */

export type NoAnswer = "origin-not-allowed" | "unreachable";

async function answers(url: URL, mode: RequestMode): Promise<boolean> {
  try {
    await fetch(url, { mode, credentials: "omit", cache: "no-store" });
    return true;
  } catch {
    return false;
  }
}

export async function whyNoAnswer(baseUrl: string): Promise<NoAnswer> {
  const url = new URL("api", new URL(baseUrl, location.href));
  if (await answers(url, "cors")) return "unreachable";
  return (await answers(url, "no-cors")) ? "origin-not-allowed" : "unreachable";
}
