/**
 * The server's last line of defence: a promise rejection nobody handled, or an exception thrown
 * from a timer or microtask, is reported instead of ending the process (Deno's default). Every
 * known path handles its own errors; this only keeps an overlooked one from taking every
 * user's connection with it.
 * @module
 */

/**
 * Reports each unhandled promise rejection and each uncaught exception to `report` and keeps
 * the process running. Returns a function that removes the handlers again.
 */
export function keepServerAlive(report: (reason: unknown) => void): () => void {
  const safely = (reason: unknown) => {
    try {
      report(reason);
    } catch {
      // reporting must not throw from here
    }
  };
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    safely(e.reason);
  };
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    safely(e.error ?? e.message);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  return () => {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  };
}
