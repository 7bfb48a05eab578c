/**
 * The server's last line of defence: a promise rejection nobody handled is reported instead of
 * ending the process (Deno's default). Every known path handles its own errors; this only keeps
 * an overlooked one from taking every user's connection with it.
 * @module
 */

/**
 * Reports each unhandled promise rejection to `report` and keeps the process running. Returns
 * a function that removes the handler again.
 */
export function keepAliveOnUnhandledRejection(report: (reason: unknown) => void): () => void {
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    try {
      report(e.reason);
    } catch {
      // reporting must not throw from here
    }
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  return () => globalThis.removeEventListener("unhandledrejection", onRejection);
}
