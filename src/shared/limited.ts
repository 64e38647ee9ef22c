/**
 * `work` over `items`, at most `limit` at a time, the results in the items' order. The first failure
 * ends it: no item starts after it, the ones running are awaited (nothing goes on behind the
 * caller's back), then it rejects with that failure.
 */
export async function eachLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  const state: { next: number; failure: { error: unknown } | null } = { next: 0, failure: null };
  const worker = async (): Promise<void> => {
    while (state.failure === null && state.next < items.length) {
      const index = state.next++;
      try {
        results[index] = await work(items[index]!);
      } catch (error) {
        state.failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (state.failure) throw state.failure.error;
  return results;
}
