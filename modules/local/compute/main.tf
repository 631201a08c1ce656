# A SIMULATED server: nothing runs anywhere and nothing exists outside Terraform
# state. The server is a terraform_data whose input holds what a cloud would
# report, so changing its size, flavor or power state is an in-place update (same
# id) and a new image replaces it (new id), as on a real cloud. The flavor and
# image choice lives in catalog.tf.

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }
}

locals {
  # Private address: the first bound port's; otherwise host number
  # address_offset + index of the network, wrapped so that small networks work
  # too (skipping the network address, the gateway .1 and the last address).
  # A network module gives its cidr; an existing network (by name) and the
  # target's default network use target.default_network_cidr.
  network_cidr = coalesce(try(var.network.cidr, null), try(var.target.default_network_cidr, null), "10.10.0.0/16")
  network_id   = var.network == null ? "default" : coalesce(var.network.id, var.network.name)
  network_bits = length(split(":", local.network_cidr)) > 1 ? 128 : 32
  network_size = try(pow(2, local.network_bits - tonumber(split("/", local.network_cidr)[1])), 0)
  host_number  = 2 + (max(var.address_offset + var.index, 2) - 2) % max(local.network_size - 3, 1)
  private_address = (length(var.ports) > 0
    ? var.ports[0].ip_address
    : try(cidrhost(local.network_cidr, local.host_number), null)
  )
  networks = (length(var.ports) > 0
    ? [for p in var.ports : { network_id = p.network_id, port_id = p.id, ip_address = p.ip_address }]
    : [{ network_id = local.network_id, port_id = null, ip_address = local.private_address }]
  )

  # Public address: a host of the simulated floating IP pool.
  public_cidr    = coalesce(try(var.target.public_cidr, null), "172.24.4.0/24")
  public_size    = try(pow(2, 32 - tonumber(split("/", local.public_cidr)[1])), 0)
  public_address = var.public_address ? try(cidrhost(local.public_cidr, random_integer.public_host[0].result), null) : null

  # Simulated boot time in whole seconds; -1 when the target's value is not a number.
  boot_seconds = try(floor(tonumber(coalesce(try(var.target.boot_seconds, null), 0))), -1)

  # The size the server gets: the flavor's, or what was asked for when an explicit
  # flavor is not in the catalog (the simulation has no other way to know it).
  size = local.flavor_spec != null ? local.flavor_spec : {
    name    = coalesce(local.flavor, "-")
    vcpus   = var.num_cpus == null ? 1 : var.num_cpus
    ram_mb  = var.mem_size_mb == null ? 1024 : var.mem_size_mb
    disk_gb = var.disk_size_gb == null ? 10 : var.disk_size_gb
    gpus    = var.num_gpus == null ? 0 : var.num_gpus
  }
}

resource "random_integer" "public_host" {
  count = var.public_address ? 1 : 0
  min   = 2
  max   = max(local.public_size - 2, 2)
  # Another pool is another address.
  keepers = {
    public_cidr = local.public_cidr
  }
}

resource "terraform_data" "server" {
  input = {
    name            = var.name
    deployment_id   = var.deployment_id
    flavor          = local.flavor
    image           = local.image
    vcpus           = local.size.vcpus
    ram_mb          = local.size.ram_mb
    disk_gb         = local.size.disk_gb
    gpus            = local.size.gpus
    networks        = local.networks
    private_address = local.private_address
    public_address  = local.public_address
    power_state     = var.power_state
    security_rules  = var.endpoint_ports
    ssh_public_keys = var.ssh_public_keys
    users           = var.users
    mounts          = local.mounts
    tags            = var.tags
    software        = var.software
    # What a cloud would boot the server with (cloudinit.tf), recorded.
    cloud_init = local.cloud_init
  }

  # A new image is a new server; everything else changes in place.
  triggers_replace = [local.image]

  lifecycle {
    precondition {
      condition     = local.flavor != null
      error_message = "no flavor in the target catalog fits ${local.flavor_request} (server ${var.name}); the catalog has: ${local.flavor_catalog_text}."
    }
    precondition {
      condition     = local.image != null
      error_message = "no image in the target catalog matches ${local.image_request} (server ${var.name}); the catalog has: ${local.image_catalog_text}."
    }
    precondition {
      condition     = local.private_address != null
      error_message = "server ${var.name}: no address for host number ${local.host_number} in network ${local.network_cidr}."
    }
    precondition {
      condition     = var.public_address ? local.public_size >= 4 : true
      error_message = "server ${var.name}: target.public_cidr ${local.public_cidr} is not an IPv4 range with room for addresses."
    }
    precondition {
      condition     = local.boot_seconds >= 0 && local.boot_seconds <= 3600
      error_message = "target.boot_seconds must be a number of seconds from 0 to 3600, got ${jsonencode(try(var.target.boot_seconds, null))}."
    }
  }
}

# Simulated boot: the server is "booting" for target.boot_seconds after it is
# created (or replaced). sleep runs without a shell, with a validated number.
resource "terraform_data" "boot" {
  count            = local.boot_seconds > 0 ? 1 : 0
  triggers_replace = [terraform_data.server.id]

  provisioner "local-exec" {
    interpreter = ["sleep"]
    command     = tostring(local.boot_seconds)
  }
}

# The server's SSH host key, as cloud-init would generate it on first boot: a new
# server gets a new key. Only its public half is ever output.
resource "tls_private_key" "host_key" {
  algorithm = "ED25519"

  lifecycle {
    replace_triggered_by = [terraform_data.server.id]
  }
}
