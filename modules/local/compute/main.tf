# A SIMULATED server: nothing runs anywhere. The server is a terraform_data whose
# input holds what a cloud would report, so that changing its size or power state
# is an in-place update and changing its image replaces it, as on a real cloud.

terraform {
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
  default_flavors = [
    { name = "small", vcpus = 1, ram_mb = 2048, disk_gb = 20, gpus = 0 },
    { name = "medium", vcpus = 2, ram_mb = 4096, disk_gb = 40, gpus = 0 },
    { name = "large", vcpus = 4, ram_mb = 8192, disk_gb = 80, gpus = 0 },
    { name = "xlarge", vcpus = 8, ram_mb = 16384, disk_gb = 160, gpus = 0 },
    { name = "2xlarge", vcpus = 16, ram_mb = 65536, disk_gb = 320, gpus = 0 },
    { name = "gpu.large", vcpus = 8, ram_mb = 32768, disk_gb = 200, gpus = 1 },
  ]
  default_images = [
    { name = "ubuntu-24.04", distribution = "ubuntu", version = "24.04", type = "linux", architecture = "x86_64" },
    { name = "ubuntu-22.04", distribution = "ubuntu", version = "22.04", type = "linux", architecture = "x86_64" },
    { name = "rocky-9", distribution = "rocky", version = "9", type = "linux", architecture = "x86_64" },
    { name = "centos-7", distribution = "centos", version = "7", type = "linux", architecture = "x86_64" },
  ]
  flavors = [for f in try(var.target.flavors, local.default_flavors) : {
    name = f.name, vcpus = f.vcpus, ram_mb = f.ram_mb, disk_gb = try(f.disk_gb, 0), gpus = try(f.gpus, 0)
  }]
  images = [for i in try(var.target.images, local.default_images) : {
    name         = i.name
    distribution = lower(try(i.distribution, ""))
    version      = tostring(try(i.version, ""))
    type         = lower(try(i.type, "linux"))
    architecture = lower(try(i.architecture, "x86_64"))
  }]

  # Best fit: the smallest flavor that satisfies every request, ordered by vcpus,
  # memory, disk, gpus, then name.
  want = {
    vcpus   = coalesce(var.num_cpus, 1)
    ram_mb  = coalesce(var.mem_size_mb, 0)
    disk_gb = coalesce(var.disk_size_gb, 0)
    gpus    = coalesce(var.num_gpus, 0)
  }
  fitting = [for f in local.flavors : f
    if f.vcpus >= local.want.vcpus && f.ram_mb >= local.want.ram_mb && f.disk_gb >= local.want.disk_gb && f.gpus >= local.want.gpus
  ]
  ranked   = sort([for f in local.fitting : format("%06d|%09d|%09d|%03d|%s", f.vcpus, f.ram_mb, f.disk_gb, f.gpus, f.name)])
  best_fit = length(local.ranked) > 0 ? split("|", local.ranked[0])[4] : null
  flavor   = var.flavor != null ? var.flavor : local.best_fit
  chosen   = [for f in local.flavors : f if f.name == local.flavor]

  # Image: every os field given must match (versions on a dot boundary: "9" matches "9.3").
  matching = [for i in local.images : i
    if(var.os.distribution == null || i.distribution == lower(coalesce(var.os.distribution, "-")))
    && (var.os.type == null || i.type == lower(coalesce(var.os.type, "-")))
    && (var.os.architecture == null || i.architecture == lower(coalesce(var.os.architecture, "-")))
    && (var.os.version == null || i.version == coalesce(var.os.version, "-") || startswith(i.version, "${coalesce(var.os.version, "-")}."))
  ]
  image = var.image != null ? var.image : (length(local.matching) > 0 ? local.matching[0].name : null)

  # Addresses: the first port's, else a host number in the network, wrapped into
  # the network's size so any CIDR works.
  cidr            = var.network != null ? var.network.cidr : try(var.target.default_network_cidr, "10.10.0.0/16")
  hosts           = pow(2, 32 - tonumber(split("/", local.cidr)[1]))
  host_number     = 2 + (var.address_offset + var.index - 2) % max(local.hosts - 3, 1)
  private_address = length(var.ports) > 0 ? var.ports[0].ip_address : cidrhost(local.cidr, local.host_number)
  public_cidr     = try(var.target.public_cidr, "172.24.4.0/24")
  public_address  = var.public_address ? cidrhost(local.public_cidr, random_integer.public_host[0].result) : null
  networks = concat(
    length(var.ports) > 0 ? [for p in var.ports : { network_id = p.network_id, ip_address = p.ip_address }] :
    [{ network_id = var.network != null ? var.network.id : "default", ip_address = local.private_address }],
    var.public_address ? [{ network_id = "public", ip_address = local.public_address }] : [],
  )
  boot_seconds = min(max(floor(tonumber(try(var.target.boot_seconds, 0))), 0), 3600)
}

# The cloud's id for the server: replaced with the server (image change, redeploy).
resource "random_uuid" "id" {
  keepers = {
    name  = var.name
    image = local.image
  }
}

resource "random_integer" "public_host" {
  count = var.public_address ? 1 : 0
  min   = 10
  max   = max(pow(2, 32 - tonumber(split("/", local.public_cidr)[1])) - 2, 10)
  keepers = {
    server = var.name
  }
}

# The server's host key, as a cloud-init would generate it.
resource "tls_private_key" "host_key" {
  algorithm = "ED25519"
}

resource "terraform_data" "server" {
  input = {
    id              = random_uuid.id.result
    name            = var.name
    deployment_id   = var.deployment_id
    flavor          = local.flavor
    image           = local.image
    vcpus           = length(local.chosen) > 0 ? local.chosen[0].vcpus : var.num_cpus
    ram_mb          = length(local.chosen) > 0 ? local.chosen[0].ram_mb : var.mem_size_mb
    disk_gb         = length(local.chosen) > 0 ? local.chosen[0].disk_gb : var.disk_size_gb
    gpus            = length(local.chosen) > 0 ? local.chosen[0].gpus : var.num_gpus
    private_address = local.private_address
    public_address  = local.public_address
    power_state     = var.power_state
    security_rules  = var.endpoint_ports
    ssh_public_keys = var.ssh_public_keys
    software        = var.software
  }
  # A new image is a new server.
  triggers_replace = [local.image]

  # Simulated boot time; sleep runs without a shell.
  provisioner "local-exec" {
    interpreter = ["sleep"]
    command     = tostring(local.boot_seconds)
  }

  lifecycle {
    precondition {
      condition     = local.flavor != null
      error_message = "No flavor in the target catalog fits num_cpus=${local.want.vcpus}, mem_size_mb=${local.want.ram_mb}, disk_size_gb=${local.want.disk_gb}, num_gpus=${local.want.gpus} (largest: ${join(", ", [for f in local.flavors : "${f.name}=${f.vcpus}cpu/${f.ram_mb}MiB/${f.disk_gb}GiB"])})."
    }
    precondition {
      condition     = var.flavor == null || length(local.chosen) > 0
      error_message = "Flavor ${coalesce(var.flavor, "-")} is not in the target catalog."
    }
    precondition {
      condition     = local.image != null
      error_message = "No image in the target catalog matches os distribution=${coalesce(var.os.distribution, "any")}, version=${coalesce(var.os.version, "any")}, type=${coalesce(var.os.type, "any")}, architecture=${coalesce(var.os.architecture, "any")}."
    }
  }
}
