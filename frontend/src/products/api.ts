/** The products endpoints, through the app's one API door. */

import { request } from "../api/client";
import type { Page } from "../api/types";
import type { Crossing, Escalation, Metrics, Point, Product } from "./types";

const get = async <T>(path: string) => (await request<T>("GET", path)).data;

export const productsApi = {
  list: () => get<Page<Product>>("products?page_size=200"),
  product: (id: number) => get<Product>(`products/${id}`),
  metrics: (id: number) => get<Metrics>(`products/${id}/metrics`),
  analytics: (id: number, days: number) =>
    get<{ points: Point[] }>(`products/${id}/analytics?days=${days}`),
  crossings: (id: number) => get<Page<Crossing>>(`products/${id}/crossings?page_size=100`),
  escalations: (id: number) => get<Page<Escalation>>(`products/${id}/escalations?page_size=50`),
  acknowledge: async (id: number) =>
    (await request<Escalation>("POST", `escalations/${id}/acknowledge`, {})).data,
};
