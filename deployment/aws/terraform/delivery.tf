# Delivery and operations: blue-green deployments of the API, deployment notifications
# and the environment's dashboard. Step-by-step use: deployment/DEPLOYMENT_GUIDE.md
# ("Blue-green deployments of the API").

module "api_blue_green" {
  source = "./modules/codedeploy-blue-green"
  count  = var.api_blue_green ? 1 : 0

  name                   = local.service_names["api"]
  cluster_name           = module.ecs.cluster_name
  service_name           = module.api_service.service_name
  container_name         = module.api_service.container_name
  task_definition_family = module.api_service.task_definition_family
  pass_role_arns         = [module.iam.execution_role_arns["api"], module.iam.task_role_arns["api"]]
  vpc_id                 = module.vpc.vpc_id
  subnet_ids             = module.vpc.private_subnet_ids
  load_balancer_arn      = module.alb.arn
  alb_arn_suffix         = module.alb.arn_suffix
  alb_security_group_id  = module.security.alb_security_group_id
  # Production traffic: the HTTPS listener (blue-green needs a certificate).
  production_listener_arn = module.alb.production_listener_arn
  blue_target_group = {
    name              = module.alb.target_group_names["api"]
    arn               = module.alb.target_group_arns["api"]
    arn_suffix        = module.alb.target_group_arn_suffixes["api"]
    port              = 8000
    health_check_path = var.api_health_check_path
  }
  public_base_url    = local.public_base_url
  certificate_arn    = var.certificate_arn
  test_listener_port = var.api_test_listener_port
  # The smoke tasks leave through the NAT gateways; admins may try green too.
  smoke_source_cidr_blocks        = [for ip in module.vpc.nat_public_ips : "${ip}/32"]
  admin_cidr_blocks               = var.admin_cidr_blocks
  traffic_shift                   = var.api_traffic_shift
  blue_termination_wait_minutes   = var.api_blue_termination_wait_minutes
  http_5xx_rate_threshold_percent = var.alarm_5xx_rate_threshold_percent
  latency_p99_threshold_seconds   = var.alarm_latency_p99_seconds
  notification_topic_arn          = module.sns.topic_arn
  kms_key_arn                     = module.kms.key_arn
  log_retention_days              = var.log_retention_days
  tags                            = local.tags
}

module "notifications" {
  source = "./modules/notifications"

  name         = local.name
  cluster_name = module.ecs.cluster_name
  topic_arn    = module.sns.topic_arn
  slack = var.chatbot_slack_channel_id == null ? null : {
    workspace_id = var.chatbot_slack_workspace_id
    channel_id   = var.chatbot_slack_channel_id
  }
  tags = local.tags
}

module "dashboard" {
  source = "./modules/dashboard"

  name                          = local.name
  cluster_name                  = module.ecs.cluster_name
  service_names                 = values(local.service_names)
  alb_arn_suffix                = module.alb.arn_suffix
  api_target_group_arn_suffixes = concat([module.alb.target_group_arn_suffixes["api"]], [for bg in module.api_blue_green : bg.green_target_group_arn_suffix])
  database_instance_id          = module.rds.instance_id
  redis_replication_group_id    = module.elasticache.replication_group_id
  alarm_names                   = concat(module.cloudwatch.alarm_names, flatten([for bg in module.api_blue_green : bg.rollback_alarm_names]))
  business_metric_namespace     = one([for agent in module.api_metrics : agent.metric_namespace])
}

# Decisions and the drift share are the API's Prometheus metrics: a CloudWatch agent
# publishes them for the dashboard (the compose stack's Grafana shows them locally).
module "api_metrics" {
  source = "./modules/metrics-agent"
  count  = var.api_metrics_to_cloudwatch ? 1 : 0

  name                  = local.name
  cluster_arn           = module.ecs.cluster_arn
  vpc_id                = module.vpc.vpc_id
  subnet_ids            = module.vpc.private_subnet_ids
  api_security_group_id = module.security.api_security_group_id
  api_dns_name          = "${module.api_service.service_discovery_name}.${local.namespace}"
  metric_namespace      = "${var.project_name}/${var.environment}"
  metrics = [
    { name = "fraudops_policy_decisions_total", dimensions = ["job", "stage", "decision"] },
    { name = "fraudops_predictions_total", dimensions = ["job"] },
    { name = "fraudops_drift_share", dimensions = ["job"] },
  ]
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
  tags               = local.tags
}
