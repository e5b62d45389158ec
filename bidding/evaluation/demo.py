"""Demo data for the evaluation: the specialties catalogue and an expert pool (load_demo calls demo_pool)."""

from bidding.evaluation.models import Expert, Specialty
from trading.models import Organization, OrganizationKind, Role, User

SPECIALTIES = [
    ("A01", "房屋建筑工程"),
    ("A02", "市政公用工程"),
    ("A03", "工程造价"),
    ("B01", "信息化工程"),
    ("C01", "土地评估"),
]
REGIONS = ["上城区", "西湖区", "滨江区", "余杭区"]


def demo_pool() -> None:
    catalogue = [Specialty.objects.get_or_create(code=code, defaults={"name": name})[0] for code, name in SPECIALTIES]
    # expert1-15 sign in (demo password + TOTP); fifteen more fill the pool so every quota can be drawn.
    for n, user in enumerate(User.objects.filter(role=Role.EXPERT, expert_profile__isnull=True).order_by("pk"), start=1):
        expert = Expert.objects.create(
            code=f"E-{n:05d}",
            user=user,
            name=user.first_name or f"专家{n:02d}",
            employer=user.organization,
            region=user.organization.region or REGIONS[n % 4],
            phone=f"1370000{n:04d}",
        )
        expert.specialties.set([catalogue[n % 3], catalogue[3 + n % 2]])
    for n in range(16, 31):
        employer, _ = Organization.objects.get_or_create(
            credit_code=f"12330100EY{n:06d}X",
            defaults={"name": f"浙江省专家库第{n}工作单位", "kind": OrganizationKind.EXPERT_EMPLOYER, "region": REGIONS[n % 4]},
        )
        expert, _ = Expert.objects.get_or_create(
            code=f"E-{n:05d}",
            defaults={"name": f"库内专家{n:02d}", "employer": employer, "region": REGIONS[n % 4], "phone": f"1370000{n:04d}"},
        )
        expert.specialties.set([catalogue[n % 3]])
