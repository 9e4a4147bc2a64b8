"""EventBridge events reach their targets whole.

moto renders the event a rule's target receives from a template that leaves out `account`,
which AWS always delivers (version, id, detail-type, source, account, time, region,
resources, detail). Put it back in the default template; a target's own InputTransformer is
untouched.
"""

from __future__ import annotations


def install() -> None:
    from moto.events.utils import EventTemplateParser

    template = EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE
    if '"account"' not in template:
        EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = template.replace('"source": "<source>", ', '"source": "<source>", "account": "<account>", ')
