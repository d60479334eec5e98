import datetime

from django.db import migrations

REGIMES = [
    # code, name, short name, cadence, required
    ("activity_day", "集体活动日制度", "集体活动日", "month", 1),
    ("cross_learning", "交叉学习月制度", "交叉学习", "month", 1),
    ("joint_meeting", "季度联席会制度", "季度联席会", "quarter", 1),
    ("mutual_inspection", "年度党建互检制度", "年度互检", "year", 1),
    ("daily_help", "日常党建互助制度", "日常互助", "none", 0),
]

METRICS = [
    # code, name, unit, aggregation, style, sanity bound per record
    ("training", "实用技术培训", "人次", "flow", "plain", 10000),
    ("donation_money", "捐款", "元", "flow", "plain", 10000000),
    ("donation_goods", "捐物折价", "元", "flow", "plain", 10000000),
    ("projects", "实事项目", "件", "flow", "plain", 1000),
    ("returning_farmland", "退耕还林", "亩", "flow", "wan", 1000000),
    ("sugarcane", "种植甘蔗", "亩", "flow", "wan", 1000000),
    ("rubber_area", "民营橡胶面积", "亩", "stock", "wan", 10000000),
]

CHECKLIST = [("组织生活", 20), ("制度建设", 20), ("阵地建设", 20), ("党员管理", 20), ("台账资料", 20)]


def create_defaults(apps, schema_editor):
    Regime = apps.get_model("activities", "Regime")
    RegimeCadence = apps.get_model("activities", "RegimeCadence")
    Metric = apps.get_model("activities", "Metric")
    InspectionItem = apps.get_model("activities", "InspectionItem")
    for order, (code, name, short, cadence, required) in enumerate(REGIMES, start=1):
        regime, _ = Regime.objects.get_or_create(
            code=code, defaults={"name": name, "short_name": short, "order": order}
        )
        RegimeCadence.objects.get_or_create(
            regime=regime,
            valid_from=datetime.date(2000, 1, 1),
            defaults={"cadence": cadence, "required": required},
        )
    for order, (code, name, unit, aggregation, style, bound) in enumerate(METRICS, start=1):
        Metric.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "unit": unit,
                "aggregation": aggregation,
                "style": style,
                "max_value": bound,
                "order": order,
            },
        )
    for order, (name, score) in enumerate(CHECKLIST, start=1):
        InspectionItem.objects.get_or_create(name=name, defaults={"max_score": score, "order": order})


class Migration(migrations.Migration):
    dependencies = [("activities", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
