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
  description = "The target's non-secret configuration."
  type        = any
  default     = {}
}

variable "compute_id" {
  description = "The id output of the compute module."
  type        = string
}

variable "volume_id" {
  description = "The id output of the block_storage module."
  type        = string
}

variable "device" {
  description = "Device path such as /dev/vdc; null = the cloud's choice (/dev/vdb here). Anything not under /dev/ (a TOSCA mount location such as /data) is recorded as location and the device is chosen."
  type        = string
  default     = null
}

variable "location" {
  description = "Where the volume is mounted on the server (TOSCA AttachesTo location), recorded here; the compute module's cloud-init does the mounting. null = not mounted."
  type        = string
  default     = null
}
