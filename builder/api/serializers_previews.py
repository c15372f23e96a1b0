"""Shapes of a preview request and of the tester's moves."""

from __future__ import annotations

from rest_framework import serializers

from automation.preview import EVENT_CHOICES, MODES


class PreviewContactSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        required=False, help_text="An existing contact to copy (it is never changed)."
    )
    email = serializers.EmailField(required=False)
    external_id = serializers.CharField(required=False, max_length=200)
    properties = serializers.DictField(required=False, help_text="Over the copied contact's.")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=100
    )
    time_zone = serializers.CharField(required=False, max_length=64)


class PreviewEventSerializer(serializers.Serializer):
    type = serializers.CharField(
        required=False, max_length=200, help_text="Defaults to the trigger's event."
    )
    data = serializers.DictField(required=False, default=dict)


class PreviewChoiceSerializer(serializers.Serializer):
    handle = serializers.CharField(
        max_length=50,
        help_text="At a wait.event: received or timeout; at a split or condition: its path.",
    )
    data = serializers.DictField(
        required=False, default=dict, help_text="The event's data, for received."
    )


class PreviewRequestSerializer(serializers.Serializer):
    contact = PreviewContactSerializer(required=False, default=dict)
    event = PreviewEventSerializer(required=False, default=dict)
    trigger = serializers.CharField(
        required=False, max_length=100, help_text="The trigger node to start at (default: first)."
    )
    mode = serializers.ChoiceField(
        choices=MODES, default="run", help_text="step: pause before each node until next."
    )
    choices = serializers.DictField(
        child=PreviewChoiceSerializer(),
        required=False,
        default=dict,
        help_text="By node id: the path to take there (asked for at a wait.event if missing).",
    )


class PreviewChooseSerializer(serializers.Serializer):
    handle = serializers.ChoiceField(choices=EVENT_CHOICES)
    data = serializers.DictField(required=False, default=dict)
