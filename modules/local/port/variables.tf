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
  description = "The target's non-secret configuration. This module reads default_network_cidr (default 10.10.0.0/16) for a port with no network."
  type        = any
  default     = {}
}

variable "network" {
  description = "The network the port is on, from a network module: {id, cidr, subnet_id}; null = the target's default network."
  type = object({
    id        = string
    cidr      = string
    subnet_id = optional(string)
  })
  default = null
}

variable "ip_address" {
  description = "A fixed address in the network; null = allocated."
  type        = string
  default     = null
  validation {
    condition     = var.ip_address == null ? true : can(cidrhost("${var.ip_address}/${length(split(":", var.ip_address)) > 1 ? 128 : 32}", 0))
    error_message = "ip_address must be an IP address such as 10.0.0.5."
  }
}

variable "order" {
  description = "TOSCA Port order: the interface's position on the server (recorded)."
  type        = number
  default     = 0
  nullable    = false
}

variable "is_default" {
  description = "TOSCA Port is_default: whether this is the server's default route (recorded)."
  type        = bool
  default     = false
  nullable    = false
}

variable "address_offset" {
  description = "Host number where this node's allocated addresses start; instance i gets address_offset + i."
  type        = number
  default     = 10
  nullable    = false
  validation {
    condition     = var.address_offset >= 0
    error_message = "address_offset must not be negative."
  }
}
