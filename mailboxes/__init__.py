"""Each seller's own mailbox: mail leaves through its SMTP (with a copy in its Sent folder), and
replies, auto-replies and delivery reports are read from its INBOX (issue 23, README
"The seller's own mailbox")."""
