/**
 * Each adapter writes its calls as functions of its own context (`statObject(ctx, key, signal)`)
 * and lists them in one table; `bindOperations` turns the table into the adapter's methods, so no
 * adapter class repeats the UfsAdapter signatures only to pass `this.ctx` on. An optional call
 * exists on the adapter only when its table has it (callers test for it).
 */
import type { UfsAdapter } from '../types';

type Call = Exclude<keyof UfsAdapter, 'kind' | 'capabilities' | 'close'>;
/** The calls every adapter has. */
type RequiredCall = { [K in Call]-?: undefined extends UfsAdapter[K] ? never : K }[Call];
/** The calls an adapter may offer. */
type OptionalCall = Exclude<Call, RequiredCall>;

/** A UfsAdapter call written as a function of the adapter's context `C`. */
type WithContext<C, F> = F extends (...args: infer A) => infer R ? (ctx: C, ...args: A) => R : never;

/** An adapter's calls, each a function of its context: all required calls, and the optional calls `O`. */
export type Operations<C, O extends OptionalCall = never> = { [K in RequiredCall]: WithContext<C, UfsAdapter[K]> } & {
  [K in O]: WithContext<C, NonNullable<UfsAdapter[K]>>;
};

/** The methods `bindOperations` gives: all required calls, and the optional calls `O`. */
export type BoundOperations<O extends OptionalCall = never> = Pick<UfsAdapter, RequiredCall> & Required<Pick<UfsAdapter, O>>;

/** The calls of `operations`, each with `ctx` bound as its first argument. */
export function bindOperations<C, O extends OptionalCall>(ctx: C, operations: Operations<C, O>): BoundOperations<O> {
  const bound: Record<string, unknown> = {};
  for (const [name, operation] of Object.entries(operations) as Array<[string, (ctx: C, ...args: unknown[]) => unknown]>) {
    bound[name] = (...args: unknown[]) => operation(ctx, ...args);
  }
  return bound as BoundOperations<O>;
}
