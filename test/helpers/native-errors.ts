import { types } from 'node:util';

/**
 * Jest runs each test file in its own realm, where errors made by Node itself (ECONNREFUSED,
 * socket hang up) are not `instanceof Error`. The `consul` package's HTTP layer (papi) relies on
 * that check to reject, and would otherwise resolve with the error object. Call at the top of a
 * test file to restore the single-realm behaviour the package sees in production for that file.
 */
export function nativeErrorsAreErrors(): void {
  const ordinaryHasInstance = Function.prototype[Symbol.hasInstance];
  beforeAll(() => {
    Object.defineProperty(Error, Symbol.hasInstance, {
      configurable: true,
      value(this: unknown, value: unknown): boolean {
        return ordinaryHasInstance.call(this, value) || (this === Error && types.isNativeError(value));
      },
    });
  });
  afterAll(() => {
    delete (Error as unknown as Record<symbol, unknown>)[Symbol.hasInstance];
  });
}
