variable "name" {
  type        = string
  description = "Name prefix of the environment (project-environment)."
}

variable "cluster_name" {
  type        = string
  description = "ECS cluster whose service deployments are reported."
}

variable "topic_arn" {
  type        = string
  description = "Alert topic the deployment events go to (and that Chatbot relays)."
}

variable "slack" {
  type = object({
    workspace_id = string
    channel_id   = string
  })
  description = "Slack workspace (team) ID and channel ID for AWS Chatbot; null sends no chat messages. The workspace must be authorised in the Chatbot console once per account."
  default     = null

  validation {
    condition     = var.slack == null ? true : (var.slack.workspace_id != null && var.slack.channel_id != null)
    error_message = "Slack notifications need both the workspace ID (chatbot_slack_workspace_id) and the channel ID."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
