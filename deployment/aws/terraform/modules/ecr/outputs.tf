output "repository_urls" {
  description = "Repository URL by repository name."
  value       = { for name, repository in local.repositories : name => repository.url }
}

output "repository_arns" {
  description = "Repository ARN by repository name."
  value       = { for name, repository in local.repositories : name => repository.arn }
}
