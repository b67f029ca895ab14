/** The embed bundle loads style sheets as text, to put them in each cell's shadow root. */
declare module "*.css" {
  const text: string;
  export default text;
}
