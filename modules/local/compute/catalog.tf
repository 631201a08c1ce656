# The flavor and image choice. This file is the SAME in every target's compute
# module (modules_test.go keeps the copies identical), so a template picks the same
# flavor and image on every target that has the same catalog.
#
# Flavor: the explicit `flavor` wins; otherwise the smallest catalog flavor with
# vcpus >= num_cpus, ram_mb >= mem_size_mb, disk_gb >= disk_size_gb and
# gpus >= num_gpus, ordered by vcpus, ram, disk, gpus, then name.
# Image: the explicit `image` wins; otherwise the first catalog image that matches
# every `os` field given (case-insensitive; a field the image does not state
# matches anything).
# No choice gives null: the compute module turns that into a plan-time error.

locals {
  # Used when the target's configuration has no catalog of its own.
  default_flavors = [
    { name = "small", vcpus = 1, ram_mb = 2048, disk_gb = 20, gpus = 0 },
    { name = "medium", vcpus = 2, ram_mb = 4096, disk_gb = 40, gpus = 0 },
    { name = "large", vcpus = 4, ram_mb = 8192, disk_gb = 80, gpus = 0 },
    { name = "xlarge", vcpus = 8, ram_mb = 16384, disk_gb = 160, gpus = 0 },
    { name = "gpu", vcpus = 8, ram_mb = 32768, disk_gb = 200, gpus = 1 },
  ]
  # The current long-term releases first (a request for just "ubuntu" gets the
  # newest), then CentOS 7 for older templates (end of life: real clouds are
  # retiring it).
  default_images = [
    { name = "ubuntu-24.04", distribution = "ubuntu", version = "24.04", type = "linux", architecture = "x86_64" },
    { name = "ubuntu-22.04", distribution = "ubuntu", version = "22.04", type = "linux", architecture = "x86_64" },
    { name = "debian-12", distribution = "debian", version = "12", type = "linux", architecture = "x86_64" },
    { name = "rocky-9", distribution = "rocky", version = "9", type = "linux", architecture = "x86_64" },
    { name = "almalinux-9", distribution = "almalinux", version = "9", type = "linux", architecture = "x86_64" },
    { name = "rocky-8", distribution = "rocky", version = "8", type = "linux", architecture = "x86_64" },
    { name = "almalinux-8", distribution = "almalinux", version = "8", type = "linux", architecture = "x86_64" },
    { name = "centos-7", distribution = "centos", version = "7", type = "linux", architecture = "x86_64" },
  ]

  # The target's catalog, every entry brought to one shape (var.target is `any`, so
  # entries may leave fields out). A missing or malformed list gives [].
  target_flavors = try([for f in var.target.flavors : {
    name    = tostring(f.name)
    vcpus   = try(tonumber(f.vcpus), 0)
    ram_mb  = try(tonumber(f.ram_mb), 0)
    disk_gb = try(tonumber(f.disk_gb), 0)
    gpus    = try(tonumber(f.gpus), 0)
  }], [])
  target_images = try([for i in var.target.images : {
    name         = tostring(i.name)
    distribution = lower(try(tostring(i.distribution), ""))
    version      = lower(try(tostring(i.version), ""))
    type         = lower(try(tostring(i.type), ""))
    architecture = lower(try(tostring(i.architecture), ""))
  }], [])
  catalog_flavors = length(local.target_flavors) > 0 ? tolist(local.target_flavors) : tolist(local.default_flavors)
  catalog_images  = length(local.target_images) > 0 ? tolist(local.target_images) : tolist(local.default_images)

  # What was asked for; null means "any".
  flavor_want = {
    vcpus   = var.num_cpus == null ? 0 : var.num_cpus
    ram_mb  = var.mem_size_mb == null ? 0 : var.mem_size_mb
    disk_gb = var.disk_size_gb == null ? 0 : var.disk_size_gb
    gpus    = var.num_gpus == null ? 0 : var.num_gpus
  }
  flavor_request = join(", ", [
    "num_cpus=${var.num_cpus == null ? "any" : var.num_cpus}",
    "mem_size_mb=${var.mem_size_mb == null ? "any" : var.mem_size_mb}",
    "disk_size_gb=${var.disk_size_gb == null ? "any" : var.disk_size_gb}",
    "num_gpus=${var.num_gpus == null ? "any" : var.num_gpus}",
  ])

  # Best fit: sort the fitting flavors by a fixed-width key; the key ends with the
  # flavor's position so the winner can be read back. A tab separates the name
  # from the position so that "m1" sorts before "m1.large".
  fitting_flavors = [for f in local.catalog_flavors : f
    if f.vcpus >= local.flavor_want.vcpus && f.ram_mb >= local.flavor_want.ram_mb &&
    f.disk_gb >= local.flavor_want.disk_gb && f.gpus >= local.flavor_want.gpus
  ]
  flavor_ranking = sort([for i, f in local.fitting_flavors :
    format("%06d|%09d|%09d|%04d|%s\t%d", ceil(f.vcpus), ceil(f.ram_mb), ceil(f.disk_gb), ceil(f.gpus), f.name, i)
  ])
  best_flavor     = length(local.flavor_ranking) > 0 ? local.fitting_flavors[tonumber(regex("[0-9]+$", local.flavor_ranking[0]))] : null
  explicit_flavor = var.flavor == null ? "" : var.flavor

  # The chosen flavor's name, and its catalog entry (null for an explicit flavor
  # the catalog does not list).
  flavor = local.explicit_flavor != "" ? local.explicit_flavor : (local.best_flavor == null ? null : local.best_flavor.name)
  flavor_spec = (local.explicit_flavor != ""
    ? try([for f in local.catalog_flavors : f if f.name == local.explicit_flavor][0], null)
    : local.best_flavor
  )

  # Image: the os fields given, lower-cased.
  os_want = { for k, v in {
    distribution = var.os.distribution
    version      = var.os.version
    type         = var.os.type
    architecture = var.os.architecture
  } : k => lower(v) if v != null && v != "" }
  image_request = length(local.os_want) == 0 ? "any os" : join(", ", [for k, v in local.os_want : "${k}=${v}"])
  # Versions compare without trailing ".0" parts: a template's 18.0 (which YAML
  # reads as the number 18) is a catalog's "18.0", and "9.0" is "9".
  matching_images = [for i in local.catalog_images : i if alltrue([for k, v in local.os_want :
    i[k] == "" || (k == "version" ? replace(i[k], "/(\\.0+)+$/", "") == replace(v, "/(\\.0+)+$/", "") : i[k] == v)
  ])]
  explicit_image = var.image == null ? "" : var.image
  image          = local.explicit_image != "" ? local.explicit_image : try(local.matching_images[0].name, null)

  # For error messages: what the catalog offers.
  flavor_catalog_text = join(", ", [for f in local.catalog_flavors : "${f.name} (${f.vcpus} vcpus, ${f.ram_mb} MiB, ${f.disk_gb} GB, ${f.gpus} gpus)"])
  image_catalog_text  = join(", ", [for i in local.catalog_images : "${i.name} (${join(" ", compact([i.distribution, i.version, i.type, i.architecture]))})"])
}
