output "id" {
  description = "The (simulated) cloud id of the server; known before apply, so updates in place do not ripple."
  value       = random_uuid.id.result
}

output "name" {
  value = var.name
}

output "flavor" {
  description = "The flavor chosen (explicit, or the best fit)."
  value       = local.flavor
}

output "image" {
  description = "The image chosen."
  value       = local.image
}

output "private_address" {
  value = terraform_data.server.output.private_address
}

output "public_address" {
  description = "The floating address, or null."
  value       = terraform_data.server.output.public_address
}

output "networks" {
  value = local.networks
}

output "power_state" {
  value = terraform_data.server.output.power_state
}

output "orc_resource" {
  description = "What the orchestrator's resources API shows of this server."
  value = {
    cloud_id = random_uuid.id.result
    kind     = "compute"
    attributes = {
      simulated            = true
      name                 = var.name
      flavor               = local.flavor
      image                = local.image
      vcpus                = terraform_data.server.output.vcpus
      ram_mb               = terraform_data.server.output.ram_mb
      disk_gb              = terraform_data.server.output.disk_gb
      gpus                 = terraform_data.server.output.gpus
      private_address      = terraform_data.server.output.private_address
      public_address       = terraform_data.server.output.public_address
      power_state          = terraform_data.server.output.power_state
      networks             = local.networks
      security_rules       = var.endpoint_ports
      host_key_fingerprint = tls_private_key.host_key.public_key_fingerprint_sha256
      ssh_keys             = length(var.ssh_public_keys)
      software_count       = length(var.software)
    }
  }
}
