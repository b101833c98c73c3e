// The catalog's products and platforms (lifecycle GET /v1/products, /v1/platforms), read once per page for the
// product filters. Errors are kept in words.
import { useEffect, useState } from "react";
import { api } from "../../lib/api";

export interface CatalogEntry {
  code: string;
  name: string;
  stage: string;
  stage_label: string;
  platform_code?: string | null;
  vendor?: string | null;
  product_managers?: string[];
  product_count?: number; // platforms only
  budget_cny?: number | null;
}

let cache: Promise<CatalogEntry[]> | null = null;

async function readAll(path: string): Promise<CatalogEntry[]> {
  const out: CatalogEntry[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 20; i++) {
    const page: { items: CatalogEntry[]; next_cursor: string | null } = await api("lifecycle", path, {
      query: { limit: 200, cursor: cursor ?? undefined },
    });
    out.push(...page.items);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return out;
}

export function loadCatalog(): Promise<CatalogEntry[]> {
  if (!cache) {
    cache = Promise.all([readAll("/v1/platforms"), readAll("/v1/products")]).then(([a, b]) => [...a, ...b]);
    cache.catch(() => (cache = null));
  }
  return cache;
}

export function useCatalog() {
  const [entries, setEntries] = useState<CatalogEntry[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    loadCatalog().then(setEntries, (e) => setError(e.message));
  }, []);
  return { entries, error };
}

export const productOptions = (entries: CatalogEntry[]) =>
  entries.map((e) => ({ value: e.code, label: `${e.name}（${e.code}）` }));
