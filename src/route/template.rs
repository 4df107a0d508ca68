//! Rules from `infra/template.yaml` (placeholder until the template loader lands).
