"""Settings objects: typed fields, checked when made, immutable afterwards.

Every stage, plugin and command declares its settings as an ``Options`` class::

    class ToneOptions(SourceOptions):
        type: Literal["tone"] = "tone"
        blocks: int = Field(60, ge=1, le=100_000, description="blocks to send")

Making one, from keywords or with ``model_validate(mapping)``, checks every value against its
annotation and limits, refuses unknown keys, NaN and infinity, and reports every bad value at once
with its key path (``ValidationError``). The API is the part of pydantic's that edgetm used
(``model_fields``, ``model_fields_set``, ``model_copy``, ``model_dump``, ``field_validator``,
``model_validator``), so code and plugins written against it read the same. It is edgetm's own
because importing pydantic and building its validators took 60-90 ms of every command's start on a
desktop core (several times that on a Pi), longer than loading and running a small model; this
module imports in about a millisecond and checks a field when its class is first used.

Values are converted as a configuration file or a command line means them: a YAML list becomes a
tuple, a name becomes an enum member, ``"0.5"`` from a flag becomes a number (unless the class is
``strict``: commands over MQTT must be exactly typed). ``model_copy(update=...)`` does not check
its updates: it is for values the program made itself.

A field can hold one of a family of options told apart by ``type`` and imported only when a value
names one (``Annotated[SourceOptions, OneOf(SOURCES)]``), or a class asked for only when a value
comes (``Annotated[Options | None, Later(get)]``): the configuration holds every plugin, and a run
imports the ones it uses.
"""

from edgetm.options.base import Options, check_field, field_validator, model_validator
from edgetm.options.fields import REQUIRED, Field, FieldInfo, Later, Limits, OneOf, ValidationError, ValidationInfo

__all__ = ["REQUIRED", "Field", "FieldInfo", "Later", "Limits", "OneOf", "Options", "ValidationError",
           "ValidationInfo", "check_field", "field_validator", "model_validator"]
