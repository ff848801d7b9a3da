/** The error a call throws, so a test can look at more than its message (e.g. BridgeError.fix). */
export function thrown<E = Error>(call: () => unknown): E {
  try {
    call();
  } catch (err) {
    return err as E;
  }
  throw new Error('expected the call to throw, but it returned');
}

/** The error a promise rejects with. */
export async function rejection<E = Error>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (err) {
    return err as E;
  }
  throw new Error('expected the promise to reject, but it resolved');
}
