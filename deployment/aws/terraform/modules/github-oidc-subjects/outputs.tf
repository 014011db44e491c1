output "subjects" {
  description = "OIDC subject claims the deploy role trusts (empty without a repository)."
  value       = local.subjects
}
