# Stdout callback of the orchestrator: one JSON object per line for every play,
# task start and task result, which the service turns into log lines. Results
# of tasks marked no_log carry no output. Part of the orchestrator; written into
# each run's private directory, never installed system-wide.
from __future__ import annotations

import json
import sys

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
    name: orchestrator
    type: stdout
    short_description: JSON lines for the orchestrator's logs
    description: one JSON object per play, task and result
'''

FIELDS = ('msg', 'stdout', 'stderr', 'module_stdout', 'module_stderr', 'reason', 'exception')


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'orchestrator'

    def _emit(self, **event):
        sys.stdout.write(json.dumps(event, default=str) + '\n')
        sys.stdout.flush()

    def v2_playbook_on_play_start(self, play):
        self._emit(event='play', name=play.get_name().strip())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._emit(event='task', task=task.get_name().strip())

    def v2_playbook_on_handler_task_start(self, task):
        self._emit(event='task', task=task.get_name().strip(), handler=True)

    def _result(self, status, result):
        r = result._result
        event = dict(event='result', status=status, task=result._task.get_name().strip(),
                     host=result._host.get_name(), changed=bool(r.get('changed')))
        if result._task.no_log or r.get('_ansible_no_log'):
            event['msg'] = '(output hidden: the task is no_log)'
        else:
            for key in FIELDS:
                value = r.get(key)
                if value:
                    text = value if isinstance(value, str) else json.dumps(value, default=str)
                    event[key] = text[:4000]
            if status in ('failed', 'unreachable') and not any(k in event for k in FIELDS):
                event['msg'] = json.dumps({k: v for k, v in r.items() if not k.startswith('_')}, default=str)[:4000]
        self._emit(**event)

    def v2_runner_on_ok(self, result):
        self._result('changed' if result._result.get('changed') else 'ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result('ignored' if ignore_errors else 'failed', result)

    def v2_runner_on_unreachable(self, result):
        self._result('unreachable', result)

    def v2_runner_on_skipped(self, result):
        self._result('skipped', result)

    def v2_playbook_on_stats(self, stats):
        hosts = {}
        for h in sorted(stats.processed.keys()):
            hosts[h] = stats.summarize(h)
        self._emit(event='recap', hosts=hosts)
