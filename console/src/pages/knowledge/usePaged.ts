// Cursor paging of a list route ({items, next_cursor}): the first page on load or when the query changes, then
// "加载更多" appends the next one. Errors are kept in words (ApiError's message) for the page to show.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, type Service } from "../../lib/api";

export function usePaged<T>(service: Service, path: string | null, query: Record<string, any> = {}, limit = 20) {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const key = JSON.stringify([path, query, limit]);
  const current = useRef(key);

  const load = useCallback(
    async (from: string | null, append: boolean) => {
      if (!path) return;
      const asked = key;
      setLoading(true);
      setError(null);
      try {
        const page = await api<{ items: T[]; next_cursor: string | null }>(service, path, {
          query: { ...query, limit, cursor: from ?? undefined },
        });
        if (current.current !== asked) return;
        setItems((old) => (append ? [...old, ...page.items] : page.items));
        setCursor(page.next_cursor ?? null);
      } catch (e: any) {
        if (current.current === asked) setError(e.message);
      } finally {
        if (current.current === asked) setLoading(false);
      }
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [key],
  );

  useEffect(() => {
    current.current = key;
    setItems([]);
    setCursor(null);
    load(null, false);
  }, [key, load]);

  return {
    items,
    loading,
    error,
    hasMore: !!cursor,
    more: () => load(cursor, true),
    reload: () => load(null, false),
  };
}
