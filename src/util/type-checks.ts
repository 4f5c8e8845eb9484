/**
 * Compile-time checks that a zod schema describes the interface the code is written against: a file writes
 * `export type XSchemaChecks = [Expect<Assignable<z.infer<typeof schema>, X>>, Expect<Assignable<X, z.infer<typeof schema>>>]`
 * and `npm run typecheck` fails when the two drift apart.
 */
export type Assignable<From, To> = [From] extends [To] ? true : false;
export type Expect<T extends true> = T;
