# A server on OpenStack: an instance with a key pair, a security group with one
# rule per endpoint port, a port (its own, or the Port nodes bound to it), a
# floating IP when asked for, cloud-init for extra keys, accounts and volume
# mounts (cloudinit.tf), and a power state that changes in place. The flavor and
# image choice lives in catalog.tf (no data sources for it: they would need the
# cloud at plan time).

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    openstack = {
      source  = "terraform-provider-openstack/openstack"
      version = "~> 3.4"
    }
  }
}

locals {
  full_name = "${var.deployment_id}-${var.name}"
  # Target settings; a missing, null or empty one takes the default.
  availability_zone = try(coalesce(var.target.availability_zone), "")
  external_network  = coalesce(try(var.target.external_network, null), "public")
  default_network   = coalesce(try(var.target.default_network, null), "private")
  # A default network known by id (default_network_id, or a UUID given as
  # default_network) lets the server have a port of its own.
  default_network_is_id = can(regex("^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$", local.default_network))
  default_network_id    = try(coalesce(var.target.default_network_id), local.default_network_is_id ? local.default_network : "")
  # An existing network the template names (network = {name}, no id: the
  # name must decide, as a network module's id is not known at plan time).
  named_network = try(coalesce(var.network.name), "")

  # How the server is wired, first that applies:
  #   1. the Port nodes bound to it;
  #   2. an existing network the template names, by name (Nova makes the port);
  #   3. a port of its own on `network`, or on target.default_network_id;
  #   4. target.default_network by name (Nova makes the port).
  # These depend only on values known at plan time, so counts stay known.
  bound        = length(var.ports) > 0
  by_name      = !local.bound && (local.named_network != "" || !(var.network != null || local.default_network_id != ""))
  own_port     = !local.bound && !local.by_name
  network_name = local.named_network != "" ? local.named_network : local.default_network
  port_ids = (local.bound ? [for p in var.ports : p.id]
    : local.own_port ? [openstack_networking_port_v2.server[0].id] : []
  )

  # One rule per distinct endpoint (protocol, port, cidr); keys survive reordering.
  endpoint_rules = { for p in var.endpoint_ports : "${lower(p.protocol)}-${p.port}-${p.cidr}" => p... }
}

resource "openstack_compute_keypair_v2" "key" {
  count      = length(var.ssh_public_keys) > 0 ? 1 : 0
  name       = local.full_name
  public_key = var.ssh_public_keys[0]
}

resource "openstack_networking_secgroup_v2" "server" {
  name        = local.full_name
  description = "Endpoints of ${var.name} (orchestrator deployment ${var.deployment_id})"
}

resource "openstack_networking_secgroup_rule_v2" "endpoint" {
  for_each          = local.endpoint_rules
  security_group_id = openstack_networking_secgroup_v2.server.id
  direction         = "ingress"
  ethertype         = length(split(":", each.value[0].cidr)) > 1 ? "IPv6" : "IPv4"
  protocol          = lower(each.value[0].protocol)
  # ICMP has no ports.
  port_range_min   = lower(each.value[0].protocol) == "icmp" ? null : each.value[0].port
  port_range_max   = lower(each.value[0].protocol) == "icmp" ? null : each.value[0].port
  remote_ip_prefix = each.value[0].cidr
}

resource "openstack_networking_port_v2" "server" {
  count              = local.own_port ? 1 : 0
  name               = local.full_name
  network_id         = var.network != null ? var.network.id : local.default_network_id
  admin_state_up     = true
  security_group_ids = [openstack_networking_secgroup_v2.server.id]
}

# Port nodes are made without our security group: add it.
resource "openstack_networking_port_secgroup_associate_v2" "bound" {
  count              = length(var.ports)
  port_id            = var.ports[count.index].id
  security_group_ids = [openstack_networking_secgroup_v2.server.id]
}

resource "openstack_compute_instance_v2" "server" {
  name              = local.full_name
  flavor_name       = local.flavor
  image_name        = local.image
  key_pair          = length(var.ssh_public_keys) > 0 ? openstack_compute_keypair_v2.key[0].name : null
  availability_zone = local.availability_zone != "" ? local.availability_zone : null
  # With ports, the security group is on the ports; by name, Nova makes the port.
  security_groups = local.by_name ? [openstack_networking_secgroup_v2.server.name] : null
  user_data       = local.cloud_init
  power_state     = var.power_state == "stopped" ? "shutoff" : "active"
  metadata = merge(var.tags, {
    orchestrator_deployment = var.deployment_id
    orchestrator_node       = var.name
  })

  dynamic "network" {
    for_each = local.port_ids
    content {
      port = network.value
    }
  }
  dynamic "network" {
    for_each = local.by_name ? [local.network_name] : []
    content {
      name = network.value
    }
  }

  lifecycle {
    # Keys reach a server when it boots: new owners' keys must not replace running
    # servers (a redeploy gives them to new servers).
    ignore_changes = [user_data, key_pair]

    precondition {
      condition     = local.flavor != null
      error_message = "no flavor in the target catalog fits ${local.flavor_request} (server ${var.name}); the catalog has: ${local.flavor_catalog_text}."
    }
    precondition {
      condition     = local.image != null
      error_message = "no image in the target catalog matches ${local.image_request} (server ${var.name}); the catalog has: ${local.image_catalog_text}."
    }
  }
}

resource "openstack_networking_floatingip_v2" "public" {
  count       = var.public_address ? 1 : 0
  pool        = local.external_network
  description = local.full_name
}

# A server attached to a network by name has the port Nova made for it: found
# by the server's id and address once the server exists (so planning a new
# server still needs no cloud).
data "openstack_networking_port_v2" "by_name" {
  count     = var.public_address && local.by_name ? 1 : 0
  device_id = openstack_compute_instance_v2.server.id
  fixed_ip  = openstack_compute_instance_v2.server.access_ip_v4
}

resource "openstack_networking_floatingip_associate_v2" "public" {
  count       = var.public_address ? 1 : 0
  floating_ip = openstack_networking_floatingip_v2.public[0].address
  port_id     = local.by_name ? data.openstack_networking_port_v2.by_name[0].id : local.port_ids[0]
  # Associate once the port is bound to the server.
  depends_on = [openstack_compute_instance_v2.server]
}
