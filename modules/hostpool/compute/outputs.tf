output "id" {
  description = "The id of this allocation in Terraform state: new when the instance gets another host."
  value       = terraform_data.host.id
}

output "name" {
  description = "The instance's name."
  value       = var.name
}

output "flavor" {
  description = "Pool hosts have no flavor."
  value       = null
}

output "image" {
  description = "Pool hosts have no image."
  value       = null
}

output "private_address" {
  description = "The host's address."
  value       = local.private_address
}

output "public_address" {
  description = "The host's address when the pool marks it public, else null."
  value       = local.public_address
}

output "networks" {
  description = "The host's interface as the pool describes it."
  value       = [{ network_id = "pool", port_id = null, ip_address = local.private_address }]
}

output "cloud_init" {
  description = "Pool hosts do not boot with cloud-init."
  value       = null
}

output "power_state" {
  description = "Always \"started\": pool hosts are not powered by the orchestrator."
  value       = "started"
}

output "orc_resource" {
  description = "What the orchestrator's resources API shows of this host."
  value = {
    cloud_id = "pool:${try(local.host.name, "-")}"
    kind     = "compute"
    attributes = {
      pool_host       = try(local.host.name, null)
      name            = var.name
      private_address = local.private_address
      public_address  = local.public_address
      port            = try(local.host.port, 22)
      user            = try(local.host.user, null)
      bastion         = try(local.host.bastion.address, null)
      vcpus           = try(local.host.cpus, null)
      ram_mb          = try(local.host.memory_mb, null)
      disk_gb         = try(local.host.disk_gb, null)
      os              = try(local.host.os, null)
      labels          = try(local.host.labels, {})
      power_state     = "started"
      networks        = [{ network_id = "pool", port_id = null, ip_address = local.private_address }]
      users           = [for u in var.users : u.name]
      tags            = var.tags
      software        = try([for s in var.software : try(tostring(s.name), "")], [])
    }
  }
}
