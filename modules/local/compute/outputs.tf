# Every output waits for the simulated boot, as a cloud's "server ready" would.

output "id" {
  description = "The (simulated) cloud id of the server: new when the server is replaced."
  value       = terraform_data.server.id
  depends_on  = [terraform_data.boot]
}

output "name" {
  description = "The server's name."
  value       = var.name
}

output "flavor" {
  description = "The flavor chosen (explicit, or the best fit)."
  value       = local.flavor
}

output "image" {
  description = "The image chosen (explicit, or the first catalog match)."
  value       = local.image
}

output "private_address" {
  description = "The private IPv4 address."
  value       = local.private_address
  depends_on  = [terraform_data.boot]
}

output "public_address" {
  description = "The simulated floating address, or null."
  value       = local.public_address
  depends_on  = [terraform_data.boot]
}

output "networks" {
  description = "The server's interfaces: [{network_id, port_id, ip_address}]."
  value       = local.networks
}

output "cloud_init" {
  description = "The cloud-init configuration the server boots with (recorded here: the server is simulated), or null."
  value       = local.cloud_init
}

output "power_state" {
  description = "\"started\" or \"stopped\"."
  value       = var.power_state
  depends_on  = [terraform_data.server]
}

output "orc_resource" {
  description = "What the orchestrator's resources API shows of this server."
  value = {
    cloud_id = terraform_data.server.id
    kind     = "compute"
    attributes = {
      simulated            = true
      name                 = var.name
      flavor               = local.flavor
      image                = local.image
      vcpus                = local.size.vcpus
      ram_mb               = local.size.ram_mb
      disk_gb              = local.size.disk_gb
      gpus                 = local.size.gpus
      private_address      = local.private_address
      public_address       = local.public_address
      networks             = local.networks
      power_state          = var.power_state
      security_rules       = var.endpoint_ports
      ssh_keys             = length(var.ssh_public_keys)
      host_key_fingerprint = tls_private_key.host_key.public_key_fingerprint_sha256
      host_public_key      = trimspace(tls_private_key.host_key.public_key_openssh)
      users                = [for u in var.users : u.name]
      mounts               = [for m in local.mounts : { volume_id = m.volume_id, location = m.location, fs_type = m.fs_type }]
      tags                 = var.tags
      software             = try([for s in var.software : try(tostring(s.name), "")], [])
      boot_seconds         = max(local.boot_seconds, 0)
    }
  }
  depends_on = [terraform_data.boot]
}
