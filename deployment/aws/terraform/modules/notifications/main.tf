# What the team hears about, on the alert topic (which also carries the CloudWatch
# alarms and the CodeDeploy deployment events of a blue-green service):
#   - every rolling ECS deployment's start, completion and failure (circuit-breaker
#     rollbacks included), through an EventBridge rule;
#   - optionally, the whole topic in a Slack channel through AWS Chatbot.
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  # Services of this environment's cluster only (another environment may share the account).
  service_arn_prefix = "arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:service/${var.cluster_name}/"
}

resource "aws_cloudwatch_event_rule" "ecs_deployments" {
  name        = "${var.name}-ecs-deployments"
  description = "${var.name}: ECS deployment state changes (started, completed, failed) to the alert topic"

  event_pattern = jsonencode({
    source      = ["aws.ecs"]
    detail-type = ["ECS Deployment State Change"]
    resources   = [{ prefix = local.service_arn_prefix }]
    detail = {
      eventName = ["SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED", "SERVICE_DEPLOYMENT_FAILED"]
    }
  })

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "ecs_deployments" {
  rule      = aws_cloudwatch_event_rule.ecs_deployments.name
  target_id = "alert-topic"
  arn       = var.topic_arn

  input_transformer {
    input_paths = {
      event   = "$.detail.eventName"
      reason  = "$.detail.reason"
      service = "$.resources[0]"
      time    = "$.time"
    }
    input_template = "\"${var.name} ECS deployment <event> on <service> at <time>: <reason>\""
  }
}

# ---- Slack through AWS Chatbot (off unless a workspace and channel are given) -----

data "aws_iam_policy_document" "chatbot_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["chatbot.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "chatbot" {
  count = var.slack == null ? 0 : 1

  name               = "${var.name}-chatbot"
  description        = "AWS Chatbot posts ${var.name} alerts to Slack and may read CloudWatch for them"
  assume_role_policy = data.aws_iam_policy_document.chatbot_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "chatbot" {
  count = var.slack == null ? 0 : 1

  role       = aws_iam_role.chatbot[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/CloudWatchReadOnlyAccess"
}

resource "aws_chatbot_slack_channel_configuration" "this" {
  count = var.slack == null ? 0 : 1

  configuration_name = "${var.name}-alerts"
  slack_team_id      = var.slack.workspace_id
  slack_channel_id   = var.slack.channel_id
  iam_role_arn       = aws_iam_role.chatbot[0].arn
  sns_topic_arns     = [var.topic_arn]
  logging_level      = "ERROR"
  # Members of the channel may read alarms and metrics, nothing more.
  guardrail_policy_arns = ["arn:${data.aws_partition.current.partition}:iam::aws:policy/CloudWatchReadOnlyAccess"]

  tags = var.tags
}
