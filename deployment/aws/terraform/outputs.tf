# ---- Addresses -----------------------------------------------------------------------

output "api_url" {
  description = "Base URL of the fraudops API (smoke test: fraudops smoke --url <api_url>)."
  value       = local.public_base_url
}

output "mlflow_url" {
  description = "URL of the MLflow UI (reachable from admin_cidr_blocks only)."
  value       = "${local.public_base_url}:5000"
}

output "airflow_url" {
  description = "URL of the Airflow UI (reachable from admin_cidr_blocks only)."
  value       = "${local.public_base_url}:8080"
}

output "alb_dns_name" {
  description = "DNS name of the load balancer (point public_hostname at it with a CNAME or alias record)."
  value       = module.alb.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone ID of the load balancer (for a Route 53 alias record)."
  value       = module.alb.zone_id
}

# ---- Delivery ------------------------------------------------------------------------

output "ecr_repository_urls" {
  description = "ECR repository URL by repository name (push <url>:<tag>)."
  value       = module.ecr.repository_urls
}

output "ecr_registry" {
  description = "Registry host to log in to: aws ecr get-login-password | docker login --username AWS --password-stdin <registry>."
  value       = "${local.account_id}.dkr.ecr.${var.aws_region}.amazonaws.com"
}

output "ecs_cluster_name" {
  description = "Name of the ECS cluster."
  value       = module.ecs.cluster_name
}

output "ecs_service_names" {
  description = "ECS service name by service key (the task definition families have the same names)."
  value = {
    api                   = module.api_service.service_name
    mlflow                = module.mlflow_service.service_name
    airflow-api-server    = module.airflow_api_server_service.service_name
    airflow-scheduler     = module.airflow_scheduler_service.service_name
    airflow-dag-processor = module.airflow_dag_processor_service.service_name
  }
}

output "github_deploy_role_arn" {
  description = "Role the GitHub workflows assume (GitHub secret AWS_DEPLOY_ROLE_ARN of this environment); null without github_repository."
  value       = module.iam.deploy_role_arn
}

output "db_init_task_definition" {
  description = "Task definition family of the one-off database initialisation."
  value       = aws_ecs_task_definition.db_init.family
}

output "db_init_run_task_command" {
  description = "AWS CLI command that runs the database initialisation once (after the first apply and the first image push)."
  value = join(" ", [
    "aws ecs run-task",
    "--region ${var.aws_region}",
    "--cluster ${module.ecs.cluster_name}",
    "--task-definition ${aws_ecs_task_definition.db_init.family}",
    "--launch-type FARGATE",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", module.vpc.private_subnet_ids)}],securityGroups=[${module.security.airflow_workers_security_group_id}],assignPublicIp=DISABLED}'",
  ])
}

# ---- Data and state ------------------------------------------------------------------

output "data_bucket_name" {
  description = "Bucket behind FRAUDOPS_DATA_URI (s3://<bucket>/data)."
  value       = module.s3.data_bucket_name
}

output "artifacts_bucket_name" {
  description = "Bucket of the MLflow artifacts."
  value       = module.s3.artifacts_bucket_name
}

output "logs_bucket_name" {
  description = "Bucket of the load balancer and S3 access logs."
  value       = module.s3.logs_bucket_name
}

output "rds_endpoint" {
  description = "Host name of the PostgreSQL instance."
  value       = module.rds.address
}

output "rds_instance_id" {
  description = "Identifier of the PostgreSQL instance (for snapshots and restores)."
  value       = module.rds.instance_id
}

output "redis_endpoint" {
  description = "Primary endpoint of the Redis online store (TLS, AUTH)."
  value       = module.elasticache.primary_endpoint
}

output "secret_names" {
  description = "Secrets Manager names by key (read one: aws secretsmanager get-secret-value --secret-id <name>)."
  value       = module.secrets.names
}

# ---- Operations ----------------------------------------------------------------------

output "log_group_names" {
  description = "CloudWatch log group by service or task key (aws logs tail <group> --follow)."
  value       = module.cloudwatch.log_group_names
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms."
  value       = module.cloudwatch.alarm_names
}

output "alert_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = module.sns.topic_arn
}

output "kms_key_arn" {
  description = "ARN of the environment's KMS key."
  value       = module.kms.key_arn
}

output "vpc_id" {
  description = "ID of the VPC."
  value       = module.vpc.vpc_id
}

output "private_subnet_ids" {
  description = "Private subnets of the tasks, database and cache."
  value       = module.vpc.private_subnet_ids
}

output "nat_public_ips" {
  description = "Public IPs outbound traffic leaves from."
  value       = module.vpc.nat_public_ips
}

output "service_discovery_namespace" {
  description = "Private DNS namespace of service-to-service names (mlflow.<namespace>, airflow-api-server.<namespace>)."
  value       = module.ecs.service_discovery_namespace_name
}

output "codedeploy_application" {
  description = "CodeDeploy application and deployment group of the blue-green API (CD uses the same name, <project>-<environment>-api); null when api_blue_green is off."
  value       = var.api_blue_green ? module.api_blue_green[0].application_name : null
}

output "api_test_url" {
  description = "Test listener of the blue-green API: the green task set during a deployment; null when api_blue_green is off."
  value       = var.api_blue_green ? module.api_blue_green[0].test_url : null
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the environment (aws cloudwatch get-dashboard --dashboard-name <name>)."
  value       = module.dashboard.dashboard_name
}

output "emr_serverless_application_id" {
  description = "EMR Serverless Spark application (null unless enable_emr_serverless)."
  value       = one(module.emr_serverless[*].application_id)
}

output "emr_serverless_job_role_arn" {
  description = "Role EMR Serverless Spark jobs run as (null unless enable_emr_serverless)."
  value       = one(module.emr_serverless[*].job_role_arn)
}

output "emr_serverless_log_uri" {
  description = "Where EMR Serverless Spark jobs write their logs (null unless enable_emr_serverless)."
  value       = one(module.emr_serverless[*].log_uri)
}
