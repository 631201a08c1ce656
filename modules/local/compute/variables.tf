# The first four variables are the ones every module takes (see modules/README.md).

variable "name" {
  description = "Instance name, <node>-<index>, unique within the deployment."
  type        = string
}

variable "deployment_id" {
  description = "The orchestrator's deployment id."
  type        = string
}

variable "index" {
  description = "count.index of this instance."
  type        = number
  default     = 0
}

variable "target" {
  description = "The target's non-secret configuration; this module reads flavors, images, default_network_cidr, public_cidr and boot_seconds."
  type        = any
  default     = {}
}

variable "num_cpus" {
  description = "Virtual CPUs asked for (TOSCA host.num_cpus); null = any."
  type        = number
  default     = null
  validation {
    condition     = var.num_cpus == null ? true : var.num_cpus >= 1
    error_message = "num_cpus must be 1 or more."
  }
}

variable "mem_size_mb" {
  description = "Memory asked for, in MiB (TOSCA host.mem_size); null = any."
  type        = number
  default     = null
  validation {
    condition     = var.mem_size_mb == null ? true : var.mem_size_mb >= 0
    error_message = "mem_size_mb must not be negative."
  }
}

variable "disk_size_gb" {
  description = "Root disk asked for, in GiB (TOSCA host.disk_size); null = any."
  type        = number
  default     = null
  validation {
    condition     = var.disk_size_gb == null ? true : var.disk_size_gb >= 0
    error_message = "disk_size_gb must not be negative."
  }
}

variable "num_gpus" {
  description = "GPUs asked for; null = any."
  type        = number
  default     = null
  validation {
    condition     = var.num_gpus == null ? true : var.num_gpus >= 0
    error_message = "num_gpus must not be negative."
  }
}

variable "flavor" {
  description = "An explicit flavor name; null = the best fit from the catalog."
  type        = string
  default     = null
}

variable "image" {
  description = "An explicit image name; null = the first catalog image matching os."
  type        = string
  default     = null
}

variable "os" {
  description = "TOSCA os capability; every field given must match the image (case-insensitive)."
  type = object({
    distribution = optional(string)
    version      = optional(string)
    type         = optional(string)
    architecture = optional(string)
  })
  default  = {}
  nullable = false
}

variable "public_address" {
  description = "Give the server a (simulated) floating address from target.public_cidr."
  type        = bool
  default     = false
  nullable    = false
}

variable "endpoint_ports" {
  description = "Ports the server's endpoints open: security group rules (recorded only)."
  type = list(object({
    port     = number
    protocol = optional(string, "tcp")
    cidr     = optional(string, "0.0.0.0/0")
  }))
  default  = []
  nullable = false
  validation {
    condition = alltrue([for p in var.endpoint_ports :
      contains(["tcp", "udp", "icmp"], lower(p.protocol)) && (lower(p.protocol) == "icmp" || (p.port >= 1 && p.port <= 65535)) && can(cidrhost(p.cidr, 0))
    ])
    error_message = "Every endpoint port needs a protocol of tcp, udp or icmp, a port in 1-65535 (ignored for icmp), and a cidr such as 0.0.0.0/0."
  }
}

variable "network" {
  description = "The network the server sits on when it has no port: {id, cidr} of a network module, or {name} of an existing network; null = the target's default network."
  type = object({
    id        = optional(string)
    cidr      = optional(string)
    subnet_id = optional(string)
    name      = optional(string)
  })
  default = null
  validation {
    condition     = var.network == null ? true : (var.network.name == null) != (var.network.id == null)
    error_message = "network needs either an id (a network module's) or the name of an existing network, not both."
  }
}

variable "ports" {
  description = "Ports bound to this server, from port modules; the first gives the private address."
  type = list(object({
    id         = string
    ip_address = string
    network_id = optional(string)
  }))
  default  = []
  nullable = false
}

variable "address_offset" {
  description = "Host number where this node's addresses start in its network; instance i gets address_offset + i."
  type        = number
  default     = 10
  nullable    = false
  validation {
    condition     = var.address_offset >= 0
    error_message = "address_offset must not be negative."
  }
}

variable "power_state" {
  description = "\"started\" or \"stopped\"."
  type        = string
  default     = "started"
  nullable    = false
  validation {
    condition     = contains(["started", "stopped"], var.power_state)
    error_message = "power_state must be \"started\" or \"stopped\"."
  }
}

variable "ssh_public_keys" {
  description = "OpenSSH public keys allowed to log in (counted only: the server is simulated)."
  type        = list(string)
  default     = []
  nullable    = false
  validation {
    condition     = alltrue([for k in var.ssh_public_keys : can(regex("^(ssh-|ecdsa-|sk-)[^ ]+ [A-Za-z0-9+/=]+", k))])
    error_message = "Every ssh public key must be in OpenSSH format (\"ssh-ed25519 AAAA... comment\")."
  }
}

variable "users" {
  description = "Accounts to create (TOSCA os_users): name, optional uid, sudo and one OpenSSH public key. The default user stays."
  type = list(object({
    name           = string
    uid            = optional(number)
    sudo           = optional(bool, false)
    ssh_public_key = optional(string)
  }))
  default  = []
  nullable = false
  validation {
    condition = alltrue([for u in var.users :
      can(regex("^[a-z_][a-z0-9_-]{0,31}$", u.name)) && !contains(["root", "default"], u.name) &&
      (u.uid == null ? true : (u.uid >= 1000 && u.uid < 60000 && floor(u.uid) == u.uid)) &&
      (u.ssh_public_key == null ? true : can(regex("^(ssh-|ecdsa-|sk-)[^ ]+ [A-Za-z0-9+/=]+", u.ssh_public_key)))
    ])
    error_message = "Every user needs a name of lowercase letters, digits, _ or - (not root or default), a uid from 1000 to 59999 if any, and an OpenSSH public key if any."
  }
}

variable "volumes" {
  description = "Volumes attached to this server that are mounted at a location (TOSCA AttachesTo location): volume_id, location, fs_type, and format (true for a new volume: make a file system when it has none)."
  type = list(object({
    volume_id = string
    location  = optional(string)
    fs_type   = optional(string, "ext4")
    format    = optional(bool, true)
  }))
  default  = []
  nullable = false
  validation {
    condition = alltrue([for v in var.volumes :
      (v.location == null ? true : can(regex("^/[A-Za-z0-9._/-]*$", v.location)) && !can(regex("(^|/)[.][.]?(/|$)", v.location)) &&
      !contains(["", "/boot", "/etc", "/usr", "/proc", "/sys", "/dev", "/bin", "/sbin", "/lib", "/var", "/root"], trimsuffix(v.location, "/"))) &&
      contains(["ext4", "ext3", "xfs", "btrfs"], v.fs_type)
    ])
    error_message = "Every volume location must be an absolute path of letters, digits, ., _, - and / (not a system directory), and fs_type one of ext4, ext3, xfs, btrfs."
  }
}

variable "tags" {
  description = "Tags of the server (TOSCA tags): metadata on clouds that have it."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "software" {
  description = "The software nodes hosted on this server ({name, type}), shown with it; their configuration payload is the software module's."
  type        = any
  default     = []
  nullable    = false
}
