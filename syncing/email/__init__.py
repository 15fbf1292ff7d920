"""Sales email on its way out to Marketo and Salesforce (SPEC sections 4 and 8): a sent email
becomes a completed Salesforce Task (``TaskSubtype`` Email) and a Marketo "Send Sales Email"
activity. The senders of the kind "email" are in ``senders.py``; ``emails.sending`` creates
the deliveries in the transaction that marks the email sent. The kinds ``email_open``,
``email_click``, ``email_reply`` and ``email_bounce`` (Marketo only) are the tracking branch's.
"""
