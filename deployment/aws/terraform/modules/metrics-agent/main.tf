# The API's own business metrics in CloudWatch: one CloudWatch agent task scrapes every
# API task's Prometheus endpoint (api.<namespace>:<metrics_port>, the port the API serves
# /metrics on in production) and publishes the selected series as CloudWatch metrics
# (embedded metric format), so the dashboard can show decisions and the drift share next
# to the load balancer's figures. Counters arrive as per-scrape deltas, gauges as values.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  emf_group  = "/aws/ecs/${var.name}/prometheus"

  prometheus_config = yamlencode({
    global = { scrape_interval = "60s", scrape_timeout = "10s" }
    scrape_configs = [{
      job_name = "fraudops-api"
      # One A record per running API task (ECS service discovery).
      dns_sd_configs = [{ names = [var.api_dns_name], type = "A", port = var.metrics_port }]
    }]
  })

  agent_config = jsonencode({
    agent = { region = local.region }
    logs = {
      force_flush_interval = 5
      metrics_collected = {
        prometheus = {
          log_group_name         = local.emf_group
          prometheus_config_path = "env:PROMETHEUS_CONFIG_CONTENT"
          emf_processor = {
            metric_namespace = var.metric_namespace
            metric_declaration = [
              for selection in var.metrics : {
                source_labels    = ["job"]
                label_matcher    = "^fraudops-api$"
                dimensions       = [selection.dimensions]
                metric_selectors = ["^${selection.name}$"]
              }
            ]
          }
        }
      }
    }
  })
}

# ---- Network: out to the API's metrics port and to AWS APIs -------------------------

resource "aws_security_group" "agent" {
  #checkov:skip=CKV2_AWS_5:Attached to the agent's ECS service below through network_configuration, which checkov does not follow.
  name        = "${var.name}-metrics-agent"
  description = "${var.name}: CloudWatch agent scraping the API's Prometheus metrics"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-metrics-agent" })
}

resource "aws_vpc_security_group_egress_rule" "to_api" {
  security_group_id            = aws_security_group.agent.id
  referenced_security_group_id = var.api_security_group_id
  description                  = "Scrape the API tasks' metrics port"
  ip_protocol                  = "tcp"
  from_port                    = var.metrics_port
  to_port                      = var.metrics_port

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "api_from_agent" {
  security_group_id            = var.api_security_group_id
  referenced_security_group_id = aws_security_group.agent.id
  description                  = "Metrics agent scrapes the API's metrics port"
  ip_protocol                  = "tcp"
  from_port                    = var.metrics_port
  to_port                      = var.metrics_port

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.agent.id
  description       = "HTTPS to AWS APIs (CloudWatch, Logs) and the public agent image"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"

  tags = var.tags
}

# ---- Roles and logs -----------------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is a setting (log_retention_days); the agent's own log and the metric records only matter for days.
  for_each = { agent = "/ecs/${var.name}/metrics-agent", emf = local.emf_group }

  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_iam_role" "this" {
  for_each = toset(["execution", "task"])

  name               = "${var.name}-metrics-agent-${each.key}"
  description        = "CloudWatch agent of ${var.name}: ${each.key} role"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "WriteOwnLog"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this["agent"].arn}:*"]
  }
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "WriteMetricRecords"
    actions   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this["emf"].arn}:*"]
  }

  statement {
    sid       = "UseEnvironmentKeyForLogs"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = {
    execution = data.aws_iam_policy_document.execution.json
    task      = data.aws_iam_policy_document.task.json
  }

  name   = "metrics-agent-${each.key}"
  role   = aws_iam_role.this[each.key].id
  policy = each.value
}

# ---- The agent ----------------------------------------------------------------------

resource "aws_ecs_task_definition" "this" {
  #checkov:skip=CKV_AWS_336:The agent renders its configuration under /opt/aws/amazon-cloudwatch-agent at start; the task holds no secret and reaches only the API's metrics port and AWS APIs.
  family                   = "${var.name}-metrics-agent"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.this["execution"].arn
  task_role_arn            = aws_iam_role.this["task"].arn

  container_definitions = jsonencode([{
    name                   = "metrics-agent"
    image                  = var.agent_image
    essential              = true
    readonlyRootFilesystem = false # the agent writes its rendered configuration at start
    environment = [
      { name = "CW_CONFIG_CONTENT", value = local.agent_config },
      { name = "PROMETHEUS_CONFIG_CONTENT", value = local.prometheus_config },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this["agent"].name
        awslogs-region        = local.region
        awslogs-stream-prefix = "metrics-agent"
      }
    }
  }])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  tags = var.tags
}

resource "aws_ecs_service" "this" {
  name                    = "${var.name}-metrics-agent"
  cluster                 = var.cluster_arn
  task_definition         = aws_ecs_task_definition.this.arn
  desired_count           = 1
  launch_type             = "FARGATE"
  platform_version        = "LATEST"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.agent.id]
    assign_public_ip = false
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.this]
}
