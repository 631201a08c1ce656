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
  description = "The target's non-secret configuration. This module reads external_network_id (a router to it when set)."
  type        = any
  default     = {}
}

variable "network_name" {
  description = "The network's name; null = <deployment_id>-<name>."
  type        = string
  default     = null
}

variable "cidr" {
  description = "Address range; null = a /24 in 192.168.0.0/16 (IPv4) or a /64 (IPv6) derived from the instance name."
  type        = string
  default     = null
  validation {
    condition     = var.cidr == null ? true : can(cidrhost(var.cidr, 0))
    error_message = "cidr must be an address range such as 10.0.0.0/24."
  }
}

variable "ip_version" {
  description = "4 or 6."
  type        = number
  default     = 4
  nullable    = false
  validation {
    condition     = contains([4, 6], var.ip_version)
    error_message = "ip_version must be 4 or 6."
  }
}

variable "gateway_ip" {
  description = "Gateway address; null = the first host of the range."
  type        = string
  default     = null
}

variable "start_ip" {
  description = "First address of the allocation pool (with end_ip)."
  type        = string
  default     = null
}

variable "end_ip" {
  description = "Last address of the allocation pool (with start_ip)."
  type        = string
  default     = null
}

variable "dhcp_enabled" {
  description = "Whether the subnet runs DHCP."
  type        = bool
  default     = true
  nullable    = false
}

variable "external_access" {
  description = "Route the network to the target's external network (INDIGO network_type isolated: false)."
  type        = bool
  default     = true
  nullable    = false
}
