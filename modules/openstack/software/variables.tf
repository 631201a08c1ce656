# The first four variables are the ones every module takes (see modules/README.md).

variable "name" {
  description = "Instance name, <host node>_software-<index>, unique within the deployment."
  type        = string
}

variable "deployment_id" {
  description = "The orchestrator's deployment id."
  type        = string
}

variable "index" {
  description = "count.index of this instance (the host's instance)."
  type        = number
  default     = 0
}

variable "target" {
  description = "The target's non-secret configuration (unused)."
  type        = any
  default     = {}
}

variable "host_id" {
  description = "The id output of the compute module instance the software runs on."
  type        = string
}

variable "software" {
  description = "The software nodes hosted on that server: name, type, types, properties (functions evaluated), artifacts, requirements, interfaces."
  type        = any
  default     = []
  nullable    = false
}
