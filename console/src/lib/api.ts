// The one way the console talks to the services: /api/<service>/v1/… on the console's own origin (the gateway of
// `make run`, or the Ingress in production), with the signed-in user's bearer token. Every error answer of the
// services is RFC 9457 problem+json: its `detail` (else `title`) is what a person is shown.

export type Service = "ticketing" | "lifecycle" | "knowledge" | "analytics";

export class ApiError extends Error {
  status: number;
  problem: Record<string, unknown>;
  constructor(status: number, problem: Record<string, unknown>) {
    super(describeProblem(status, problem));
    this.status = status;
    this.problem = problem;
  }
}

const GENERIC: Record<number, string> = {
  401: "登录已过期，请重新登录",
  403: "没有权限执行此操作",
  404: "未找到",
  409: "操作与当前状态冲突",
  412: "数据已被他人修改，请刷新后重试",
  422: "输入有误",
  500: "服务出错，请稍后重试",
  502: "服务暂不可用",
  503: "服务暂不可用",
};

export function describeProblem(status: number, problem: Record<string, unknown>): string {
  const errors = problem.errors as { field?: string; message?: string }[] | undefined;
  if (status === 422 && errors?.length) {
    return errors.map((e) => `${e.field ?? ""}: ${e.message ?? ""}`).join("；");
  }
  const missing = problem.missing as { label: string }[] | undefined;
  if (missing?.length) {
    return `${problem.title ?? GENERIC[status] ?? ""}：${missing.map((m) => m.label).join("；")}`;
  }
  return String(problem.detail ?? problem.title ?? GENERIC[status] ?? `HTTP ${status}`);
}

let token: string | null = sessionStorage.getItem("ops.token");

export function setToken(value: string | null) {
  token = value;
  if (value) sessionStorage.setItem("ops.token", value);
  else sessionStorage.removeItem("ops.token");
}

export function getToken() {
  return token;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  headers?: Record<string, string>;
}

export function url(service: Service, path: string, query?: RequestOptions["query"]): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  }
  const qs = params.toString();
  return `/api/${service}${path}${qs ? `?${qs}` : ""}`;
}

export async function api<T = any>(service: Service, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...(options.headers ?? {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  let body: BodyInit | undefined;
  if (options.body instanceof FormData) body = options.body;
  else if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(url(service, path, options.query), { method: options.method ?? "GET", headers, body });
  } catch {
    throw new ApiError(0, { title: "无法连接服务，请检查网络" });
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let data: any = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = { detail: text.slice(0, 200) };
  }
  if (!response.ok) {
    if (response.status === 401) window.dispatchEvent(new Event("ops:unauthorized"));
    throw new ApiError(response.status, data ?? {});
  }
  return data as T;
}
