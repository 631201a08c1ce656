# A server of a host pool: an existing machine an admin registered, reached over
# SSH. Nothing is created or destroyed: the orchestrator allocates a free host to
# each instance before Terraform runs (exclusively, in its database) and passes
# the allocation in var.target.allocations; this module records it in the state,
# so the state says which host each instance uses, and destroying the instance
# is what releases the host.

terraform {
  required_version = ">= 1.5.0"
  # Only the built-in terraform_data: no provider.
}

locals {
  host = try(var.target.allocations[var.name], null)
  # The host's address is private unless the pool says it is reachable from
  # outside (then it is the public address too).
  private_address = try(local.host.address, null)
  public_address  = try(local.host.public, false) ? try(local.host.address, null) : null
}

resource "terraform_data" "host" {
  input = {
    name            = var.name
    deployment_id   = var.deployment_id
    host            = try(local.host.name, null)
    address         = local.private_address
    port            = try(local.host.port, 22)
    user            = try(local.host.user, null)
    bastion         = try(local.host.bastion, null)
    public_address  = local.public_address
    power_state     = var.power_state
    ssh_public_keys = length(var.ssh_public_keys)
    software        = var.software
  }

  # Another host is another server.
  triggers_replace = [try(local.host.name, null)]

  lifecycle {
    precondition {
      condition     = local.host != null
      error_message = "no pool host is allocated to ${var.name}: the orchestrator allocates one before running Terraform."
    }
    precondition {
      condition     = var.power_state == "started"
      error_message = "server ${var.name} is a pool host: pool hosts cannot be stopped through the orchestrator."
    }
    precondition {
      condition     = length(var.volumes) == 0
      error_message = "server ${var.name} is a pool host: volumes cannot be attached to pool hosts."
    }
  }
}
