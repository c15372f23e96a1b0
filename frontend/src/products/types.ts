/** Shapes of the products API (docs/products.md). */

export interface Feature {
  id: number;
  key: string;
  name: string;
  target_tag: string;
  target_size: number | null;
}

export interface Product {
  id: number;
  name: string;
  description: string;
  manager_email: string;
  executive_email: string;
  features: Feature[];
  metrics_at: string | null;
}

export interface FeatureMetrics {
  name: string;
  users: number;
  target: number;
  adoption: number | null;
  trend: number | null;
  band: string | null;
}

export interface Metrics {
  computed_at?: string;
  window_days?: number;
  active_users?: number;
  engagement?: number | null;
  error_rate?: number | null;
  nps?: number | null;
  health_score?: number | null;
  health_band: string | null;
  features: Record<string, FeatureMetrics>;
}

export interface Point {
  day: string;
  health_score: number | null;
  active_users: number;
  engagement: number | null;
  error_rate: number | null;
  nps: number | null;
  features: Record<string, number | null>;
}

export interface CrossingRun {
  id: string;
  workflow: string;
  workflow_name: string;
  status: string;
}

export interface Crossing {
  id: number;
  metric: string;
  feature: string | null;
  from_band: string | null;
  to_band: string;
  value: number | null;
  source: string;
  at: string;
  runs: CrossingRun[];
}

export interface Escalation {
  id: number;
  title: string;
  level: number;
  max_level: number;
  status: string;
  escalate_at: string | null;
  acknowledged_by: string;
}
