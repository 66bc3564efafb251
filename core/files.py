"""Stored files: what an upload may be, and (below) how every stored byte is put and read back."""

MAX_EVIDENCE_FILE = 20 * 1024 * 1024     # an evidence file or report attachment
# What evidence and report attachments may be, by suffix, with the type they are served as.
EVIDENCE_SUFFIXES = {".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
                     ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                     ".doc": "application/msword", ".odt": "application/vnd.oasis.opendocument.text",
                     ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     ".txt": "text/plain", ".zip": "application/zip"}
