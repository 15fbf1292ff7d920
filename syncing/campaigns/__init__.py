"""Sales campaign memberships on their way to Marketo: "Add to Sales Campaign" and "Removed
from Sales Campaign" custom activities with the campaign's name (SPEC sections 4 and 9).
``campaigns.services`` creates the deliveries (kinds ``campaign_added`` and
``campaign_removed``, record: the membership) in the transaction that adds or ends it."""
