output "application_id" {
  description = "ID of the EMR Serverless application (aws emr-serverless start-job-run --application-id)."
  value       = aws_emrserverless_application.spark.id
}

output "job_role_arn" {
  description = "ARN of the role jobs run as (--execution-role-arn)."
  value       = aws_iam_role.job.arn
}

output "log_uri" {
  description = "Where the application's jobs write their logs."
  value       = "s3://${var.logs_bucket_name}/${var.log_prefix}/"
}
