/** Shapes the Hub client's modules share (kept in a leaf so that they import one another without a cycle). */

/** The process environment as the Hub settings read it (injected, never `process.env` directly). */
export type Env = Readonly<Record<string, string | undefined>>;

/** `fetch` as the Hub client calls it: the global one, undici's with a proxy, or a test double. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
