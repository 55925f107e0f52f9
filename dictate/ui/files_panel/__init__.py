"""The files panel (`panel`) and its parts: the drop zone, the queue's rows, the wording of
times and states, and the save dialog."""

from dictate.ui.files_panel.drop_zone import DropZone, split_urls
from dictate.ui.files_panel.formatting import clock, file_filters, stamp
from dictate.ui.files_panel.panel import FilesPanel

__all__ = ["DropZone", "FilesPanel", "clock", "file_filters", "split_urls", "stamp"]
