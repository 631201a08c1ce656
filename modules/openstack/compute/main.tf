# A server on OpenStack: an instance with a key pair from the owners' ssh keys, a
# security group from the endpoint ports, a floating IP when asked for, and a power
# state (ACTIVE or SHUTOFF) that an apply changes in place. Flavor and image are
# explicit or the best fit from the target's catalog (no data sources: they would
# need the cloud at plan time).

terraform {
  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = "~> 3.4"
    }
  }
}

locals {
  flavors = [for f in try(var.target.flavors, []) : {
    name = f.name, vcpus = f.vcpus, ram_mb = f.ram_mb, disk_gb = try(f.disk_gb, 0), gpus = try(f.gpus, 0)
  }]
  images = [for i in try(var.target.images, []) : {
    name         = i.name
    distribution = lower(try(i.distribution, ""))
    version      = tostring(try(i.version, ""))
    type         = lower(try(i.type, "linux"))
    architecture = lower(try(i.architecture, "x86_64"))
  }]
  want = {
    vcpus   = coalesce(var.num_cpus, 1)
    ram_mb  = coalesce(var.mem_size_mb, 0)
    disk_gb = coalesce(var.disk_size_gb, 0)
    gpus    = coalesce(var.num_gpus, 0)
  }
  fitting = [for f in local.flavors : f
    if f.vcpus >= local.want.vcpus && f.ram_mb >= local.want.ram_mb && f.disk_gb >= local.want.disk_gb && f.gpus >= local.want.gpus
  ]
  ranked = sort([for f in local.fitting : format("%06d|%09d|%09d|%03d|%s", f.vcpus, f.ram_mb, f.disk_gb, f.gpus, f.name)])
  flavor = var.flavor != null ? var.flavor : (length(local.ranked) > 0 ? split("|", local.ranked[0])[4] : null)
  matching = [for i in local.images : i
    if(var.os.distribution == null || i.distribution == lower(coalesce(var.os.distribution, "-")))
    && (var.os.type == null || i.type == lower(coalesce(var.os.type, "-")))
    && (var.os.architecture == null || i.architecture == lower(coalesce(var.os.architecture, "-")))
    && (var.os.version == null || i.version == coalesce(var.os.version, "-") || startswith(i.version, "${coalesce(var.os.version, "-")}."))
  ]
  image = var.image != null ? var.image : (length(local.matching) > 0 ? local.matching[0].name : null)

  full_name         = "${var.deployment_id}-${var.name}"
  default_network   = try(var.target.default_network, "private")
  availability_zone = try(var.target.availability_zone, "") != "" ? var.target.availability_zone : null
  # How the server is wired: to the ports bound to it, to a port of ours on the
  # given network, or by name to the target's default network.
  own_port     = length(var.ports) == 0 && var.network != null
  by_name      = length(var.ports) == 0 && var.network == null
  port_ids     = length(var.ports) > 0 ? [for p in var.ports : p.id] : (local.own_port ? [openstack_networking_port_v2.port[0].id] : [])
  first_port   = length(local.port_ids) > 0 ? local.port_ids[0] : openstack_compute_instance_v2.server.network[0].port
  cloud_config = length(var.ssh_public_keys) > 1 ? "#cloud-config\n${yamlencode({ ssh_authorized_keys = slice(var.ssh_public_keys, 1, length(var.ssh_public_keys)) })}" : null
}

resource "openstack_compute_keypair_v2" "key" {
  count      = length(var.ssh_public_keys) > 0 ? 1 : 0
  name       = local.full_name
  public_key = var.ssh_public_keys[0]
}

resource "openstack_networking_secgroup_v2" "server" {
  name        = local.full_name
  description = "Endpoints of ${var.name} (deployment ${var.deployment_id})"
}

resource "openstack_networking_secgroup_rule_v2" "endpoint" {
  for_each          = { for i, p in var.endpoint_ports : "${p.protocol}-${p.port}-${i}" => p }
  direction         = "ingress"
  ethertype         = "IPv4"
  protocol          = each.value.protocol
  port_range_min    = each.value.port
  port_range_max    = each.value.port
  remote_ip_prefix  = each.value.cidr
  security_group_id = openstack_networking_secgroup_v2.server.id
}

resource "openstack_networking_port_v2" "port" {
  count              = local.own_port ? 1 : 0
  name               = local.full_name
  network_id         = var.network.id
  security_group_ids = [openstack_networking_secgroup_v2.server.id]
}

resource "openstack_networking_port_secgroup_associate_v2" "bound" {
  for_each           = { for i, p in var.ports : tostring(i) => p.id }
  port_id            = each.value
  security_group_ids = [openstack_networking_secgroup_v2.server.id]
}

resource "openstack_compute_instance_v2" "server" {
  name              = local.full_name
  flavor_name       = local.flavor
  image_name        = local.image
  key_pair          = length(var.ssh_public_keys) > 0 ? openstack_compute_keypair_v2.key[0].name : null
  availability_zone = local.availability_zone
  security_groups   = local.by_name ? [openstack_networking_secgroup_v2.server.name] : null
  user_data         = local.cloud_config
  power_state       = var.power_state == "stopped" ? "shutoff" : "active"
  metadata = {
    orchestrator_deployment = var.deployment_id
    orchestrator_node       = var.name
    software_count          = tostring(length(var.software))
  }

  dynamic "network" {
    for_each = local.port_ids
    content {
      port = network.value
    }
  }
  dynamic "network" {
    for_each = local.by_name ? [local.default_network] : []
    content {
      name = network.value
    }
  }

  lifecycle {
    precondition {
      condition     = local.flavor != null
      error_message = "No flavor in the target catalog fits num_cpus=${local.want.vcpus}, mem_size_mb=${local.want.ram_mb}, disk_size_gb=${local.want.disk_gb}, num_gpus=${local.want.gpus}."
    }
    precondition {
      condition     = local.image != null
      error_message = "No image in the target catalog matches os distribution=${coalesce(var.os.distribution, "any")}, version=${coalesce(var.os.version, "any")}."
    }
  }
}

resource "openstack_networking_floatingip_v2" "public" {
  count = var.public_address ? 1 : 0
  pool  = try(var.target.external_network, "public")
}

resource "openstack_networking_floatingip_associate_v2" "public" {
  count       = var.public_address ? 1 : 0
  floating_ip = openstack_networking_floatingip_v2.public[0].address
  port_id     = local.first_port
}
