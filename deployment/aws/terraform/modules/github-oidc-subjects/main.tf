# Which GitHub Actions jobs may assume an environment's deploy role: the OIDC `sub`
# claims its trust policy accepts. No resources, so the rule can be evaluated offline
# (tests/infra plans this module on its own).
#
# A job that names a GitHub environment presents `repo:<owner>/<name>:environment:<env>`;
# any other job presents `repo:<owner>/<name>:ref:<ref>`. Production trusts only the
# first form: the required reviewers of the GitHub `production` environment are then a
# gate AWS enforces, since no job outside that environment, on any branch, can deploy.
locals {
  subjects = var.repository == null ? [] : compact([
    "repo:${var.repository}:environment:${var.environment}",
    var.branch == null ? "" : "repo:${var.repository}:ref:refs/heads/${var.branch}",
  ])
}
