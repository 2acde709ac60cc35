"""Safe actions on the duplicates a report lists: move, delete (to the trash), hard-link, and undo.

Planning (`make_plan`) reads and hashes every file and changes nothing; `format_plan` is the dry run.
`apply_plan` re-checks each file and its keeper just before touching it and records each operation
in a manifest that `undo_manifest` restores from, after checking every entry against the run
that wrote it (see `dupbench.actions.undo`). A keeper, or any other name or path for the same
inode, is never acted on, so no group loses its last copy.
"""

from dupbench.actions.command import add_action_arguments, check_action_arguments, default_manifest_path, perform_actions
from dupbench.actions.execute import ApplyResult, apply_plan
from dupbench.actions.files import FileState, read_state
from dupbench.actions.keep import KEEP_RULES, check_keep_rule, choose_keeper, rekey_groups
from dupbench.actions.manifest import MANIFEST_FORMAT, MANIFEST_VERSION, Entry, Manifest, load_manifest
from dupbench.actions.plan import ACTIONS, Plan, Skip, Step, format_plan, make_plan
from dupbench.actions.trash import system_trash_available
from dupbench.actions.undo import ManifestRejected, UndoResult, undo_manifest

__all__ = [
    "ACTIONS",
    "KEEP_RULES",
    "MANIFEST_FORMAT",
    "MANIFEST_VERSION",
    "ApplyResult",
    "Entry",
    "FileState",
    "Manifest",
    "ManifestRejected",
    "Plan",
    "Skip",
    "Step",
    "UndoResult",
    "add_action_arguments",
    "apply_plan",
    "check_action_arguments",
    "check_keep_rule",
    "choose_keeper",
    "default_manifest_path",
    "format_plan",
    "load_manifest",
    "make_plan",
    "perform_actions",
    "read_state",
    "rekey_groups",
    "system_trash_available",
    "undo_manifest",
]
