"""What the app should hold after syncing a sandbox seeded with N leads."""

from sandbox import seed


def qualifying_leads(total: int, seed_number: int = 1) -> dict[int, dict]:
    """Seed leads with a sales owner, by Marketo id."""
    leads = (seed.lead(i, seed_number, total) for i in range(1, total + 1))
    return {lead["id"]: lead for lead in leads if lead["sfdcLeadOwnerId"]}
