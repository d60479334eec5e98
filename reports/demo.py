"""Demo data: fictional counties, first 青山县, with years of mutual-aid co-building behind them.

`seed(scale=..., seed=...)` writes one county (scales `demo`, `county`) or a city or province
root above many counties (`city`, `province`) in one transaction, county by county so memory stays
bounded, and returns what it made. Rows are generated once, as light objects with their ids
already taken from the database's sequences, and handed to a writer: PostgreSQL's COPY where the
database is PostgreSQL, `bulk_create` in batches elsewhere (SQLite). Every random choice comes from
one `random.Random` per county (the first county's is `random.Random(seed)`) and every date is
counted back from `today`, so the same seed on the same day gives the same data. The data stands as
of yesterday evening: nothing is dated today or later.

No simple-history rows are written: the history of a demo row starts at its first real change.
"""

import dataclasses
import datetime
import functools
import itertools
import math
import operator
import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from activities import compliance, summaries
from activities.models import (
    Activity,
    Commitment,
    Inspection,
    InspectionItem,
    InspectionScore,
    Metric,
    Need,
    Outcome,
    Participation,
    PeriodFigure,
    Rectification,
    Regime,
)
from activities.periods import Period
from pairings.models import (
    Assignment,
    HelpPairing,
    Household,
    Member,
    Organization,
    Pairing,
    PairingSuspension,
)
from reports.models import SetupConfirmation, SetupStep

COUNTY = "青山县"
COUNTY_CODE = "QS"
PAIRING_PREFIX = "GJ"
DEMO_PASSWORD = "Cobuild#2026"
BATCH_SIZE = 2000

Kind = Organization.Kind
Sector = Organization.Sector
Post = Member.Post
Category = Activity.Category
Status = Activity.Status
Role = Assignment.Role


class MissingDefaults(Exception):
    """The regimes, metrics or checklist that migrations install are missing."""


@dataclass(frozen=True)
class Scale:
    townships: int
    organ_branches: int
    villages: int
    pairings: int
    organ_members: tuple  # members per organ branch (low, high)
    village_members: tuple
    years: int
    households: tuple  # households per paired village
    needs: tuple  # needs per pairing
    counties: int = 1  # more than one: a region's root (REGIONS) above them
    region: str = ""


@dataclass(frozen=True)
class Region:
    """The city or province above the counties, and its staff's demo login."""

    name: str
    code: str
    username: str


REGIONS = {
    "city": Region(name="青州市", code="QZ", username="city"),
    "province": Region(name="青南省", code="QN", username="province"),
}

COUNTY_SCALE = Scale(
    townships=20,
    organ_branches=150,
    villages=300,
    pairings=300,
    organ_members=(18, 42),
    village_members=(22, 48),
    years=5,
    households=(4, 8),
    needs=(2, 5),
)
SCALES = {
    "demo": Scale(
        townships=3,
        organ_branches=10,
        villages=20,
        pairings=15,
        organ_members=(9, 18),
        village_members=(9, 19),
        years=2,
        households=(3, 6),
        needs=(2, 5),
    ),
    "county": COUNTY_SCALE,
    # Ten counties like `county`; a hundred counties (about 30,000 pairings) over three years.
    "city": dataclasses.replace(COUNTY_SCALE, counties=10, region="city"),
    "province": dataclasses.replace(COUNTY_SCALE, years=3, counties=100, region="province"),
}


# Names ------------------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵周吴徐孙朱马胡郭林何高梁郑罗宋谢唐韩曹许邓萧冯曾程蔡彭潘袁于董余苏叶吕魏"
    "蒋田杜丁沈姜范江傅钟卢汪戴崔任陆廖姚方金邱夏谭韦贾邹石熊孟秦阎薛侯雷白龙段郝孔邵史毛常"
    "万顾赖武康贺严尹钱施牛洪龚覃蒙莫农岩"
)
SURNAME_CUM_WEIGHTS = list(itertools.accumulate(1 / (rank + 6) for rank in range(len(SURNAMES))))
MALE_CHARS = (
    "伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发武新利清"
    "飞彬富顺信杰涛昌成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会群豪心邦承乐绍功松善厚庆"
    "磊民友裕河哲江超浩亮政谦奇翰朗宏鸣朋斌栋维启克伦翔旭鹏泽晨辰建家致树德行泰盛雄钧冠腾航"
)
FEMALE_CHARS = (
    "秀娟英华慧巧美娜静淑惠珠翠雅芝玉萍红娥玲芬芳燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月媛"
    "艳瑞佳嘉琼勤珍贞莉桂叶璐琦晶妍茜秋珊莎锦青倩婷婉娴瑾颖露瑶怡雁蓓仪荷丹蓉君琴蕊薇菁梦岚"
)

TOWNSHIPS = [
    "城关镇", "石门镇", "河口镇", "龙潭镇", "新街镇", "平坝乡", "大寨乡", "青龙乡", "白沙镇",
    "马鞍山乡", "清水乡", "太平镇", "永安乡", "双河镇", "三岔乡", "红岩乡", "黄泥塘镇", "松柏乡",
    "竹林乡", "长岭乡", "坪山镇", "南溪乡", "勐岗镇", "芭蕉乡",
]  # fmt: skip
# The other counties of a city or province: a head and a tail, never 青山县 again.
COUNTY_HEADS = "白石龙凤金云安永长平宁新兴东西南桃柳松梅碧红黄玉"
COUNTY_TAILS = "山川河江源阳宁平丰城溪林岭"
VILLAGE_HEADS = "石龙新大小上下东西南北中清白红黄青马牛竹松柏桃杨柳梅金水山河田岭茶芒蕉"
VILLAGE_TAILS = "门塘寨坡湾沟坪冲岗桥庄营堡溪林岩口洞箐坝"
VILLAGE_EXTRAS = [
    "大石头", "芭蕉林", "老虎箐", "凤凰山", "三家村", "五里坡", "十八湾", "龙王庙", "响水河",
    "水井湾", "杨梅坪", "甘蔗坪", "橡胶坪", "茶山", "回龙湾", "八角寨",
]  # fmt: skip

# County organs: name and how many branches a big one tends to have (more means more).
ORGANS = [
    ("县委办公室", 1), ("县人大常委会办公室", 1), ("县政府办公室", 1), ("县政协办公室", 1),
    ("县纪委监委机关", 2), ("县委组织部", 1), ("县委宣传部", 1), ("县委统战部", 1),
    ("县委政法委", 1), ("县委编办", 1), ("县委党校", 1), ("县委巡察办", 1),
    ("县发展和改革局", 2), ("县教育体育局", 3), ("县科技和工业信息化局", 1), ("县公安局", 4),
    ("县民政局", 1), ("县司法局", 2), ("县财政局", 2), ("县人力资源和社会保障局", 2),
    ("县自然资源局", 2), ("县住房和城乡建设局", 2), ("县交通运输局", 2), ("县水务局", 2),
    ("县农业农村局", 3), ("县林业和草原局", 2), ("县商务局", 1), ("县文化和旅游局", 1),
    ("县卫生健康局", 2), ("县退役军人事务局", 1), ("县应急管理局", 1), ("县审计局", 1),
    ("县市场监督管理局", 2), ("县统计局", 1), ("县医疗保障局", 1), ("县信访局", 1),
    ("县民族宗教事务局", 1), ("县政务服务管理局", 1), ("县机关事务管理局", 1), ("县档案馆", 1),
    ("县融媒体中心", 1), ("县供销合作社联合社", 1), ("县总工会", 1), ("团县委", 1),
    ("县妇联", 1), ("县科协", 1), ("县残联", 1), ("县工商联", 1), ("县人民法院", 2),
    ("县人民检察院", 2), ("县税务局", 2), ("县气象局", 1), ("县人民医院", 3), ("县中医医院", 2),
    ("县疾病预防控制中心", 1), ("县妇幼保健院", 1), ("县糖业发展服务中心", 1),
    ("县天然橡胶产业发展中心", 1), ("县农业技术推广中心", 1), ("县畜牧兽医服务中心", 1),
    ("县烟草专卖局", 1), ("县住房公积金管理中心", 1), ("县不动产登记中心", 1),
    ("县城市管理局", 1), ("县投资促进局", 1), ("县乡村振兴服务中心", 1), ("县公路养护中心", 1),
]  # fmt: skip
# The organs a small demo county shows first: the ones the source's work touches most.
DEMO_ORGANS = [
    "县财政局", "县农业农村局", "县发展和改革局", "县交通运输局", "县水务局", "县自然资源局",
    "县林业和草原局", "县卫生健康局", "县教育体育局", "县人力资源和社会保障局", "县民政局",
    "县糖业发展服务中心",
]  # fmt: skip
ORDINALS = "一二三四五六七八九十"

# Study topics: (object of 学习, first day, last day, months) — None means unbounded.
D = datetime.date
STUDY_TOPICS = [
    ("党史，开展党史学习教育", D(2021, 2, 20), D(2021, 12, 31), None),
    ("习近平总书记“七一”重要讲话精神", D(2021, 7, 2), D(2021, 12, 31), None),
    ("党的十九届六中全会精神", D(2021, 11, 12), D(2022, 9, 30), None),
    ("党的二十大精神", D(2022, 10, 23), D(2024, 6, 30), None),
    ("党的二十届二中全会精神", D(2023, 3, 1), D(2023, 12, 31), None),
    ("习近平新时代中国特色社会主义思想（主题教育）", D(2023, 4, 1), D(2024, 1, 31), None),
    ("《中国共产党纪律处分条例》（党纪学习教育）", D(2024, 4, 1), D(2024, 8, 31), None),
    ("党的二十届三中全会精神", D(2024, 7, 19), None, None),
    ("中央八项规定精神（学习教育）", D(2025, 3, 15), D(2025, 7, 31), None),
    ("党的二十届四中全会精神", D(2025, 10, 24), None, None),
    ("《中国共产党农村基层组织工作条例》", None, None, None),
    ("《中国共产党支部工作条例（试行）》", None, None, None),
    ("《中国共产党章程》", None, None, None),
    ("习近平总书记关于“三农”工作的重要论述", None, None, None),
    ("《中华人民共和国乡村振兴促进法》", D(2021, 5, 1), None, None),
    ("《中国共产党党员教育管理工作条例》", None, None, None),
    ("{year}年中央一号文件精神", None, None, (2, 3, 4, 5)),
    ("{year}年全国两会精神", None, None, (3, 4)),
]
LECTURES = [
    "如何当好新时代农村党员", "发挥党员先锋模范作用，带领群众增收致富", "以党建引领乡村振兴",
    "从党史中汲取奋进力量", "严守纪律规矩，永葆清廉本色", "把群众的小事当成自己的大事",
]  # fmt: skip
PRACTICES = [
    "“三会一课”经验", "发展党员工作规范", "党费收缴、使用和管理规定", "村务公开和“四议两公开”工作法",
    "党员积分制管理做法", "主题党日活动组织方法", "台账资料规范管理经验", "村级集体经济发展经验",
    "矛盾纠纷调解经验", "党员志愿服务做法", "基层治理网格化工作经验", "流动党员管理做法",
]  # fmt: skip
ORGAN_PRACTICES = [
    "机关党支部标准化规范化建设经验", "“一岗双责”落实做法", "机关作风建设经验", "机关党建与业务融合做法",
]  # fmt: skip
SUBJECTS = [
    "惠农政策解读", "农村常用法律知识", "医保和养老保险政策", "防范电信网络诈骗",
    "森林防火知识", "村级财务管理", "农村土地承包政策", "禁毒防艾知识",
]  # fmt: skip
CROPS = ["甘蔗", "茶叶", "芒果", "咖啡", "香蕉", "澳洲坚果", "冬季蔬菜", "玉米"]
SKILLS = ["生猪养殖", "肉牛养殖", "农村电商", "家政服务", "农村电工", "果树嫁接"]
FRUITS = ["芒果", "香蕉", "火龙果", "沃柑", "百香果"]
PROJECTS = [
    "修缮村党员活动室", "硬化村组道路", "修建灌溉水池", "维修人畜饮水管道", "建设村级文化广场",
    "修建村内排水沟", "改造村卫生室", "建设农家书屋",
]  # fmt: skip
ISSUES = [
    "村组道路硬化", "灌溉水渠维修", "甘蔗外运", "人畜饮水", "村级集体经济项目", "后备干部培养",
    "党员活动室修缮", "产业发展资金", "农产品销售", "人居环境整治",
]  # fmt: skip
RETURN_REASONS = [
    "参加人员名单不完整，请补充签到表后重新提交。",
    "活动日期与会议记录不一致，请核实后重新提交。",
    "活动内容过于简单，请补充具体做法和成效。",
    "成效数据与实际不符，请核实后重新填写。",
]


@dataclass(frozen=True)
class ActivityKind:
    """A kind of activity a pairing logs, with its words and the figures it carries."""

    key: str
    regime: str | None  # regime code; None for 其他
    category: str
    title: str
    summary: str
    weight: int = 10
    villagers: tuple = (0, 0)
    outcomes: tuple = ()  # (metric code, low, high, step); low "villagers" = the villager count
    months: tuple = ()  # only in these months; empty means all year
    place: str = "either"  # village, organ, either, field, homes
    n: tuple = (0, 0)  # range of the {n} in the words
    event: bool = False  # only logged by the yearly events, never picked at random


K = ActivityKind
KINDS = [
    # 集体活动日
    K("day_study", "activity_day", Category.STUDY, "学习{topic}",
      "{helper}与{helped}联合开展主题党日活动，双方党员{people}人参加。{reader}领学{topic}，"
      "党员结合工作实际交流学习体会。", weight=30),
    K("day_lecture", "activity_day", Category.STUDY, "联合党课：{lecture}",
      "{leader}以“{lecture}”为题为双方党员上党课，{people}名党员参加，会后开展讨论交流。",
      weight=10),
    K("day_visit", "activity_day", Category.VISIT, "走访慰问{village}困难党员和群众",
      "双方党员分组走访慰问{village}困难党员、老党员和困难群众{villagers}户，送去大米、食用油等"
      "慰问品，折价{goods}元，听取群众意见建议。",
      weight=8, villagers=(4, 15), outcomes=(("donation_goods", 800, 6000, 100),), place="homes"),
    K("day_ditch", "activity_day", Category.PROJECT, "义务劳动：帮助{village}清理灌溉沟渠",
      "双方党员{people}人与群众{villagers}人一起清理村内灌溉沟渠约{n}米，保障春耕用水。",
      weight=6, villagers=(10, 40), outcomes=(("projects", 1, 1, 1),), months=(1, 2, 3, 4, 11, 12),
      place="field", n=(500, 3000)),
    K("day_clean", "activity_day", Category.OTHER, "人居环境整治义务劳动",
      "双方党员{people}人带领群众{villagers}人清理村内垃圾、整治房前屋后环境卫生。",
      weight=8, villagers=(15, 60), place="village"),
    K("day_trees", "activity_day", Category.OTHER, "义务植树活动",
      "双方党员和群众{villagers}人在{village}集体林地义务植树，栽种树苗{n}株。",
      weight=6, villagers=(10, 40), months=(5, 6, 7), place="field", n=(200, 1500)),
    K("day_review", "activity_day", Category.MEETING, "联合召开组织生活会",
      "双方支部联合召开组织生活会，开展批评和自我批评，查摆问题{n}条，逐条明确整改措施。",
      weight=20, months=(1, 2, 12), n=(3, 8)),
    K("day_martyrs", "activity_day", Category.STUDY, "清明祭扫烈士陵园，开展革命传统教育",
      "双方党员{people}人到县烈士陵园敬献花篮，重温入党誓词，接受革命传统教育。",
      weight=25, months=(4,), place="cemetery"),
    K("day_july", "activity_day", Category.STUDY, "“七一”主题党日：重温入党誓词",
      "庆祝建党{party_age}周年，双方党员{people}人重温入党誓词，{leader}讲专题党课，"
      "表彰优秀共产党员。", event=True),
    K("day_training", "activity_day", Category.TRAINING, "专题讲座：{subject}",
      "邀请{organ}业务骨干为{village}党员群众讲解{subject}，参加群众{villagers}人次。",
      weight=5, villagers=(20, 80), outcomes=(("training", "villagers", 0, 1),), place="village"),
    # 交叉学习月
    K("cross_village", "cross_learning", Category.STUDY, "交叉学习{practice}",
      "{helper}党员到{village}，与{helped}交叉学习{practice}，双方{people}名党员参加，"
      "互相查阅台账资料，交流经验做法。", weight=50, place="village"),
    K("cross_organ", "cross_learning", Category.STUDY, "交叉学习{organ_practice}",
      "{helped}党员到{organ}交叉学习{organ_practice}，旁听机关支部“三会一课”，"
      "双方{people}名党员参加。", weight=20, place="organ"),
    K("cross_lecture", "cross_learning", Category.TRAINING, "交叉学习：{subject}专题讲座",
      "{organ}业务骨干为{village}党员群众讲解{subject}，现场解答群众提问，参加群众{villagers}人次。",
      weight=20, villagers=(20, 90), outcomes=(("training", "villagers", 0, 1),), place="village"),
    # 季度联席会
    K("joint", "joint_meeting", Category.MEETING, "{year}年{quarter}联席会议",
      "双方支部书记、委员{people}人召开{quarter}联席会议，通报上季度共建工作开展情况，研究{issue}"
      "等事项，商定下季度共建活动安排。"),
    # 日常党建互助
    K("help_crop", "daily_help", Category.TRAINING, "实用技术培训（{crop}种植）",
      "邀请县农业技术推广中心技术人员到{village}开展{crop}种植技术培训，参训群众{villagers}人次，"
      "现场讲解良种选择、水肥管理和病虫害防治。",
      weight=15, villagers=(20, 120), outcomes=(("training", "villagers", 0, 1),), place="field"),
    K("help_rubber", "daily_help", Category.TRAINING, "实用技术培训（橡胶割胶）",
      "组织割胶技术能手到{village}示范割胶技术，培训胶农{villagers}人次。",
      weight=6, villagers=(20, 80), outcomes=(("training", "villagers", 0, 1),), months=(4, 5, 6, 7),
      place="field"),
    K("help_skill", "daily_help", Category.TRAINING, "实用技术培训（{skill}）",
      "{organ}联系培训机构到{village}开展{skill}技能培训，参训群众{villagers}人次。",
      weight=8, villagers=(15, 70), outcomes=(("training", "villagers", 0, 1),), place="village"),
    K("help_project", "daily_help", Category.PROJECT, "帮助{village}{project}",
      "{organ}协调资金和材料，帮助{village}{project}，群众{villagers}人投工投劳，已完工并交付使用。",
      weight=15, villagers=(10, 50), outcomes=(("projects", 1, 1, 1),), place="village"),
    K("help_cane", "daily_help", Category.PROJECT, "组织群众扩种甘蔗",
      "{helper}协调甘蔗良种和化肥，{helped}党员带头示范，带动群众扩种甘蔗{area}亩。",
      weight=10, villagers=(10, 60), outcomes=(("sugarcane", 50, 800, 10),), months=(1, 2, 3, 4),
      place="field"),
    K("help_forest", "daily_help", Category.PROJECT, "推进退耕还林",
      "帮助{village}落实退耕还林{area}亩，党员带头在坡耕地种植经济林木，争取补助资金。",
      weight=8, villagers=(10, 40), outcomes=(("returning_farmland", 20, 300, 5),),
      months=(5, 6, 7, 8), place="field"),
    K("help_homes", "daily_help", Category.VISIT, "入户走访一帮一帮扶户",
      "机关党员到{village}入户走访结对帮扶户{villagers}户，宣传惠民政策，帮助解决生产生活困难。",
      weight=12, villagers=(3, 12), place="homes"),
    K("help_books", "daily_help", Category.DONATION, "为{village}小学捐赠图书和学习用品",
      "{helper}党员干部为{village}小学捐赠图书和学习用品，折价{goods}元。",
      weight=8, outcomes=(("donation_goods", 2000, 15000, 100),), months=(5, 6, 8, 9),
      place="village"),
    K("help_fertilizer", "daily_help", Category.DONATION, "捐赠化肥和甘蔗种苗",
      "{organ}为{village}困难群众捐赠化肥和甘蔗种苗，折价{goods}元。",
      weight=8, villagers=(5, 30), outcomes=(("donation_goods", 5000, 40000, 100),),
      months=(1, 2, 3), place="village"),
    K("help_sell", "daily_help", Category.OTHER, "帮助{village}销售滞销{fruit}",
      "通过机关食堂、干部职工认购和电商平台等渠道，帮助{village}销售{fruit}{n}斤。",
      weight=6, months=(6, 7, 8), n=(3000, 30000)),
    K("help_lecture", "daily_help", Category.STUDY, "为{village}党员上党课：{lecture}",
      "{leader}到{village}以“{lecture}”为题上党课，{people}名党员参加。", weight=6,
      place="village"),
    K("help_mediate", "daily_help", Category.OTHER, "协助{village}开展矛盾纠纷排查调解",
      "双方党员入户排查矛盾纠纷{n}件，现场调解化解，群众{villagers}人参加。",
      weight=4, villagers=(5, 20), place="village", n=(2, 9)),
    # 其他（不属于五项制度）
    K("drought", None, Category.DONATION, "抗旱捐款",
      "{village}遭遇春旱，群众生产生活用水困难。{helper}组织党员干部捐款{money}元，帮助购买抽水机、"
      "铺设临时管道，解决群众饮水困难。",
      outcomes=(("donation_money", 2000, 30000, 10),), place="village", event=True),
    K("spring", None, Category.VISIT, "春节走访慰问困难党员群众",
      "春节前夕，双方党员走访慰问{village}困难党员和困难群众{villagers}户，送去慰问金和慰问品，"
      "折价{goods}元。", villagers=(8, 30), outcomes=(("donation_goods", 2000, 12000, 100),),
      place="homes", event=True),
    K("study_aid", None, Category.DONATION, "金秋助学捐款",
      "{helper}党员干部捐款{money}元，资助{village}困难家庭学生{n}名顺利入学。",
      outcomes=(("donation_money", 2000, 12000, 100),), place="village", n=(2, 8), event=True),
    K("old_members", None, Category.VISIT, "“七一”走访慰问老党员和生活困难党员",
      "“七一”前夕，双方支部走访慰问老党员和生活困难党员{villagers}人，送去慰问品折价{goods}元。",
      weight=8, villagers=(3, 10), outcomes=(("donation_goods", 1000, 6000, 100),), months=(6, 7),
      place="homes"),
    K("cane_training", None, Category.TRAINING, "实用技术培训（甘蔗种植）",
      "邀请县糖业发展服务中心技术人员开展甘蔗种植技术培训，讲解良种选育、地膜覆盖和病虫害防治，"
      "参训群众{villagers}人次。",
      weight=15, villagers=(30, 150), outcomes=(("training", "villagers", 0, 1),),
      months=(1, 2, 3, 4, 11, 12), place="village"),
    K("pests", None, Category.TRAINING, "科技下乡：农作物病虫害防治培训",
      "组织农技人员到{village}开展科技下乡，培训群众{villagers}人次，发放技术资料。",
      weight=10, villagers=(20, 100), outcomes=(("training", "villagers", 0, 1),), place="village"),
    K("lights", None, Category.PROJECT, "实事项目：为{village}安装太阳能路灯{n}盏",
      "{organ}协调资金为{village}主干道安装太阳能路灯{n}盏，解决群众夜间出行难。",
      weight=8, outcomes=(("projects", 1, 1, 1),), place="village", n=(10, 40)),
    K("deed", None, Category.PROJECT, "实事项目：{project}",
      "{organ}为{village}办实事，{project}，受益群众{villagers}人。",
      weight=10, villagers=(50, 400), outcomes=(("projects", 1, 1, 1),), place="village"),
    K("drowning", None, Category.OTHER, "联合开展防溺水安全宣传",
      "双方党员进村入户开展防溺水安全宣传，发放宣传资料{n}份，群众{villagers}人参加。",
      weight=8, villagers=(30, 150), months=(5, 6, 7, 8), place="village", n=(100, 600)),
    K("fire", None, Category.OTHER, "联合开展森林防火宣传",
      "双方党员在{village}开展森林防火宣传，张贴标语、巡山护林，群众{villagers}人参加。",
      weight=8, villagers=(20, 100), months=(1, 2, 3, 4, 12), place="village"),
    K("forum", None, Category.MEETING, "共建双方座谈会：商议{village}产业发展",
      "双方支部书记和致富带头人座谈，商议{village}{crop}产业发展和村集体经济增收办法。",
      weight=6, villagers=(2, 10)),
    K("warning", None, Category.STUDY, "联合观看警示教育片",
      "双方党员{people}人集中观看警示教育片，交流观后感，筑牢拒腐防变思想防线。", weight=6),
    K("flood", None, Category.DONATION, "洪涝灾后捐款",
      "{village}遭受洪涝灾害，{helper}党员干部捐款{money}元，帮助群众恢复生产。",
      weight=2, outcomes=(("donation_money", 2000, 20000, 10),), months=(6, 7, 8, 9),
      place="village"),
]  # fmt: skip
KINDS_BY_KEY = {kind.key: kind for kind in KINDS}
# How a pairing's month is filled: each regime, and 其他, draws among these categories.
CATEGORY_WEIGHTS = {
    "activity_day": {"study": 55, "visit": 10, "project": 8, "other": 14, "meeting": 8, "training": 5},
    "cross_learning": {"study": 75, "training": 25},
    "daily_help": {"training": 30, "project": 30, "visit": 14, "donation": 12, "other": 8, "study": 6},
    None: {"donation": 4, "training": 30, "visit": 8, "project": 25, "other": 20, "meeting": 6,
           "study": 7},
}  # fmt: skip
# Words shown for each metric in a summary.
METRIC_WORD = {
    "donation_money": "money",
    "donation_goods": "goods",
    "sugarcane": "area",
    "returning_farmland": "area",
}

# Inspections: (item, finding, rectification).
FINDINGS = [
    ("组织生活", "部分月份主题党日记录不完整", "补齐主题党日活动记录，规范会议记录格式"),
    ("组织生活", "“三会一课”开展次数不足", "按要求落实“三会一课”，每季度至少讲一次党课"),
    ("制度建设", "共建工作制度未上墙公示", "完善共建工作制度并上墙公示"),
    ("制度建设", "联席会议纪要未按时整理", "联席会议后一周内整理会议纪要并归档"),
    ("阵地建设", "党员活动室功能布置不规范，标识标牌陈旧", "更新党员活动室标识标牌，规范功能布置"),
    ("阵地建设", "远程教育设备长期未使用", "维修远程教育设备，每月组织党员收看"),
    ("党员管理", "党费收缴台账未及时更新", "按月收缴党费，及时更新党费收缴台账"),
    ("党员管理", "流动党员联系不够紧密", "建立流动党员联系台账，每季度至少联系一次"),
    ("台账资料", "共建活动台账资料归档不完整，部分活动缺少签到表", "补齐活动签到表和照片，按年度归档"),
    ("台账资料", "发展党员材料不齐全", "对照发展党员工作流程补齐材料"),
]  # fmt: skip

# Needs: (title, description, commitment, amount range in yuan or None).
NEEDS = [
    ("修缮村党员活动室", "村党员活动室建于上世纪九十年代，屋顶漏雨、墙体开裂，无法正常开展组织生活。",
     "协调资金修缮村党员活动室", (30000, 120000)),
    ("硬化进村道路", "进村道路约{km}公里为土路，雨季泥泞难行，甘蔗外运困难。",
     "协调项目资金硬化进村道路{km}公里", (150000, 600000)),
    ("修建灌溉水渠", "村内灌溉水渠年久失修，渗漏严重，影响{area}亩农田灌溉。",
     "帮助修建三面光灌溉水渠", (50000, 300000)),
    ("解决人畜饮水困难", "旱季水源不足，{households}户群众要到两公里外取水。",
     "援建蓄水池并铺设饮水管道", (40000, 200000)),
    ("开展甘蔗种植技术培训", "群众种植甘蔗管理粗放，单产偏低，希望得到技术指导。",
     "联系县糖业发展服务中心开展甘蔗种植技术培训", None),
    ("购置村委会办公电脑", "村委会办公电脑老旧，无法正常使用党员教育平台。",
     "捐赠办公电脑2台", (6000, 12000)),
    ("安装村内路灯", "村内主干道没有路灯，群众夜间出行不便。", "援建太阳能路灯", (20000, 80000)),
    ("帮助销售农产品", "今年芒果丰收，但销路不畅，部分果品滞销。", "组织机关干部职工认购滞销芒果", None),
    ("建设村级文化广场", "村里缺少群众文化活动场地。", "协调资金建设村级文化活动广场", (80000, 250000)),
    ("资助困难学生", "村里有{students}名困难家庭学生面临辍学。", "开展“金秋助学”结对资助", (5000, 20000)),
    ("发展村级集体经济", "村集体经济收入薄弱，缺少稳定增收项目。", "帮助谋划并扶持村集体经济项目",
     (50000, 200000)),
    ("加强后备干部培养", "村“两委”班子年龄偏大，后备干部不足。", "选派村后备干部到机关跟班学习", None),
]  # fmt: skip
COMMITMENT_PROGRESS = {
    Commitment.Status.PLANNED: "已列入本年度共建计划，正在协调资金。",
    Commitment.Status.IN_PROGRESS: "资金已落实，正在组织实施。",
    Commitment.Status.DONE: "已办结，群众满意。",
    Commitment.Status.CANCELLED: "经双方协商，纳入县级项目统一实施，本承诺取消。",
}
SITUATIONS = [
    "因病致贫，户主患慢性病，需长期服药。",
    "家中缺少劳动力，收入来源单一。",
    "缺技术，甘蔗种植单产偏低。",
    "因学致贫，两个孩子在外读书。",
    "住房年久失修，存在安全隐患。",
    "独居老人，生活需要照料。",
    "残疾人家庭，就业困难。",
]


# The run ------------------------------------------------------------------------------------------


@dataclass
class Side:
    """One branch of the county with its members, as the generator keeps it in memory."""

    org: object  # a row of Organization (ROWS)
    place: str  # 石门村 or 县财政局: the unit's own name
    parent: object
    members: list = field(default_factory=list)
    crop: str = ""

    @property
    def secretary(self):
        return self.members[0]

    @property
    def leaders(self):
        return [m for m in self.members if m.post != Post.MEMBER]


@dataclass
class PairingPlan:
    pairing: object  # a row of Pairing
    helper: Side
    helped: Side
    stop: datetime.date  # the last day it logs anything
    diligence: float  # chance of meeting each due period
    punctuality: float  # chance of submitting on time
    helper_pool: list
    helped_pool: list
    donations_only_since: datetime.date | None = None
    few_kinds: bool = False
    joint_meetings: list = field(default_factory=list)


@dataclass(frozen=True)
class County:
    """A county's own name and the prefixes of its codes."""

    name: str  # 青山县
    code: str  # QS: its organizations are QS, QS-J, QS-T01-V02 …, its members QS-J001-001 …
    pairing_prefix: str  # GJ: its pairings are GJ-001 …


@dataclass
class Seeded:
    """What a seed made: rows by table, the demo logins, and the writer that wrote them."""

    writer: str
    counts: dict = field(default_factory=dict)
    logins: list = field(default_factory=list)
    users: dict = field(default_factory=dict)


@dataclass
class Run:
    """One county being generated; `seeded` and `writer` are the whole seed's."""

    scale: Scale
    rng: random.Random
    today: datetime.date
    regimes: dict
    metrics: dict
    items: list
    rules: dict  # the regimes' cadence rules, as compliance reads them
    deadlines: dict  # (regime id, day) → the last day on which logging it is on time
    writer: "BulkWriter"
    seeded: Seeded
    county: County
    region: object = None  # the root row above the county, in a city or province
    position: int = 0  # the county root's place among the region's counties
    staff: User = None  # who confirmed the county's set-up and entered its figures
    last_day: datetime.date = None  # yesterday: the data stands as of last night
    start: datetime.date = None  # first day of the covered months
    tz: datetime.tzinfo = None
    root: object = None
    townships: list = field(default_factory=list)
    organs: list = field(default_factory=list)  # Side
    villages: list = field(default_factory=list)  # Side
    plans: list = field(default_factory=list)
    demo_plan: PairingPlan = None  # the pairing the demo secretaries log in to

    def __post_init__(self):
        self.last_day = self.today - datetime.timedelta(days=1)
        self.start = add_months(self.today.replace(day=1), -(12 * self.scale.years - 1))
        self.tz = timezone.get_current_timezone()

    @property
    def counts(self):
        return self.seeded.counts

    @property
    def users(self):
        return self.seeded.users

    @property
    def logins(self):
        return self.seeded.logins

    def deadline(self, regime_id, day):
        """The last day on which logging an activity of `day` is on time (compliance's rule)."""
        key = (regime_id, day)
        if key not in self.deadlines:
            rules = self.rules.get(regime_id, []) if regime_id else []
            self.deadlines[key] = compliance.grace_end(compliance.period_of(rules, day))
        return self.deadlines[key]

    def at(self, day, hour, minute=0):
        return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.tz)

    def row(self, model, **values):
        """A new row of `model` with a fresh id (written later, by `save`)."""
        return ROWS[model](id=self.writer.new_id(model), **values)

    def save(self, label, model, rows, columns=None):
        self.writer.write(model, rows, columns)
        self.counts[label] = self.counts.get(label, 0) + len(rows)
        return rows


# Rows and writers ---------------------------------------------------------------------------------


def row_type(model):
    """A light stand-in for a row of `model`: a slot per column, named as the model names the
    column's value (`branch_id`, not `branch`), with the model's defaults. It costs a fraction of a
    model instance, which tells at millions of rows."""
    slots = []
    for f in model._meta.concrete_fields:
        if f.has_default() and callable(f.default):
            spec = field(default_factory=f.default)
        elif f.has_default():
            spec = field(default=f.default)
        else:
            spec = field(default=f.get_default())  # None, or "" for text that is not null
        slots.append((f.attname, object, spec))
    return dataclasses.make_dataclass(
        f"{model.__name__}Row", slots, kw_only=True, slots=True, eq=False
    )


WRITTEN = [
    Organization,
    Member,
    Pairing,
    PairingSuspension,
    Assignment,
    SetupConfirmation,
    Household,
    HelpPairing,
    Activity,
    Participation,
    Outcome,
    Inspection,
    InspectionScore,
    Rectification,
    Need,
    Commitment,
    PeriodFigure,
]
ROWS = {model: row_type(model) for model in WRITTEN}


def column_names(model):
    return tuple(f.attname for f in model._meta.concrete_fields)


class BulkWriter:
    """Writes rows with `bulk_create` in batches (SQLite).

    Ids are numbered on from the largest ever used (SQLite keeps it in sqlite_sequence for
    AUTOINCREMENT keys, which an explicit id moves on too); the write lock that the transaction
    takes at its start keeps anyone else from using them meanwhile.
    """

    name = "bulk_create"

    def __init__(self):
        self.next = {}  # model → its next free id

    def take(self, model, count):
        """`count` fresh ids of `model`'s table: returns the first, the others follow it."""
        if model not in self.next:
            self.next[model] = self.first_free(model)
        first = self.next[model]
        self.next[model] += count
        return first

    def new_id(self, model):
        return self.take(model, 1)

    def first_free(self, model):
        table = model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT max(coalesce((SELECT max(id) FROM {connection.ops.quote_name(table)}), 0),"
                " coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0))",
                [table],
            )
            return cursor.fetchone()[0] + 1

    def start(self):
        pass

    def write(self, model, rows, columns=None):
        names = column_names(model)
        if columns is None:
            rows = map(operator.attrgetter(*names), rows)
        elif tuple(columns) != names:
            rows = ([row[columns.index(name)] for name in names] for row in rows)
        model.objects.bulk_create([model(*row) for row in rows], batch_size=BATCH_SIZE)

    def finish(self):
        pass


class CopyWriter(BulkWriter):
    """Writes rows with PostgreSQL's COPY: plain tuples, no model instances, no SQL per batch.

    Ids come from each table's own sequence, a block at a time (one round trip reserves a block,
    so nobody else is given those ids); at the end a sequence whose last block was not used up is
    set back to the largest id written, unless someone else has drawn from it meanwhile.

    As pg_restore does, the written tables' foreign keys, unique constraints and secondary indexes
    are set aside while the rows go in and built again at the end, in the same transaction: one
    sort per index and one join per foreign key instead of an index update and a deferred check
    per row (which made COPY itself some fifteen times slower and the commit slower still).
    Primary keys stay, and so does every check constraint.
    """

    name = "copy"
    BLOCK = 1 << 16  # the largest block `new_id` reserves at once

    def __init__(self):
        self.sequences = {}  # model → its sequence's name
        self.free = {}  # model → [next free id, end of its block]
        self.reserved = {}  # model → the last id its latest block reserved
        self.block = {}  # model → the size of the next block new_id reserves (it grows)

    def start(self):
        tables = [model._meta.db_table for model in WRITTEN]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conrelid::regclass::text, quote_ident(conname), contype,"
                " pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('f', 'u')"
                " ORDER BY conrelid, conname",
                [tables],
            )
            self.constraints = cursor.fetchall()
            cursor.execute(
                "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
                " WHERE indrelid = ANY(%s::regclass[]) AND NOT indisprimary AND NOT EXISTS ("
                "  SELECT FROM pg_constraint WHERE conindid = indexrelid AND conrelid = indrelid)"
                " ORDER BY indrelid, indexrelid",
                [tables],
            )
            self.indexes = cursor.fetchall()
            # Foreign keys first: one may rest on a unique constraint.
            for table, name, _kind, _ in sorted(self.constraints, key=lambda c: c[2]):
                cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
            for index, _ in self.indexes:
                cursor.execute(f"DROP INDEX {index}")

    def take(self, model, count):
        if model not in self.sequences:
            table = model._meta.db_table
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
                self.sequences[model] = cursor.fetchone()[0]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(%s::regclass, nextval(%s::regclass) + %s - 1)",
                [self.sequences[model], self.sequences[model], count],
            )
            last = cursor.fetchone()[0]
        self.reserved[model] = last
        return last - count + 1

    def new_id(self, model):
        free = self.free.get(model)
        if free is None or free[0] > free[1]:
            size = self.block.get(model, 256)
            self.block[model] = min(2 * size, self.BLOCK)
            first = self.take(model, size)
            free = self.free[model] = [first, first + size - 1]
        free[0] += 1
        return free[0] - 1

    def write(self, model, rows, columns=None):
        if columns is None:
            columns = column_names(model)
            rows = map(operator.attrgetter(*columns), rows)
        quote = connection.ops.quote_name
        sql = "COPY {} ({}) FROM STDIN".format(
            quote(model._meta.db_table),
            ", ".join(quote(model._meta.get_field(name).column) for name in columns),
        )
        with connection.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)

    def finish(self):
        """Build the indexes and constraints again (checking every row), then give back the
        unused ends of the last id blocks, so the ids run on without a gap."""
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")  # sorts for the indexes
            for _, definition in self.indexes:
                cursor.execute(definition)
            for table, name, _, definition in sorted(self.constraints, key=lambda c: c[2] != "u"):
                cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
            for model, sequence in self.sequences.items():
                table = connection.ops.quote_name(model._meta.db_table)
                cursor.execute(
                    f"SELECT setval(%s::regclass, (SELECT max(id) FROM {table}))"
                    " WHERE pg_sequence_last_value(%s::regclass) = %s",
                    [sequence, sequence, self.reserved[model]],
                )


def writer_for(vendor):
    return CopyWriter() if vendor == "postgresql" else BulkWriter()


def database_has_data():
    """Whether the database already holds organizations, members, pairings or activities."""
    return any(model.objects.exists() for model in (Organization, Member, Pairing, Activity))


def counties_of(scale, seed=1):
    """The counties a scale makes: 青山县 first, then fictional others with their own codes."""
    first = County(name=COUNTY, code=COUNTY_CODE, pairing_prefix=PAIRING_PREFIX)
    if scale.counties == 1:
        return [first]
    region = REGIONS[scale.region]
    pool = [head + tail + "县" for head in COUNTY_HEADS for tail in COUNTY_TAILS if head != tail]
    names = random.Random(f"{seed}:{scale.region}").sample(pool, scale.counties - 1)
    others = []
    for number, name in enumerate(names, start=1):
        code = f"{region.code}{number:02d}"
        others.append(County(name=name, code=code, pairing_prefix=f"{PAIRING_PREFIX}-{code}"))
    return [first, *others]


def conflicts(scale="demo"):
    """What the demo counties would collide with: existing codes they would reuse."""
    scale = SCALES[scale] if isinstance(scale, str) else scale
    counties = counties_of(scale)
    found = []
    if scale.region and Organization.objects.filter(code=REGIONS[scale.region].code).exists():
        found.append(f"组织编码 {REGIONS[scale.region].code}")
    for label, model, suffix in (("组织编码", Organization, ""), ("党员编号", Member, "-")):
        q = Q()
        for county in counties:
            q |= Q(code__startswith=county.code + suffix)
        if model.objects.filter(q).exists():
            found.append(
                f"{label} {counties[0].code}{suffix}*" + ("等" if len(counties) > 1 else "")
            )
    if Pairing.objects.filter(code__startswith=f"{PAIRING_PREFIX}-").exists():
        found.append(f"对子编号 {PAIRING_PREFIX}-*")
    return found


def seed(*, scale="demo", seed=1, today=None):
    """Write the demo counties; returns what was made (`Seeded`: counts, logins, writer).

    `scale` is a name in SCALES or a Scale (tests make small cities with `dataclasses.replace`).
    Everything is written here, in one transaction: a step before or after the writing (say,
    pausing and rebuilding something the writes would keep up to date) belongs around it.
    """
    scale = SCALES[scale] if isinstance(scale, str) else scale
    today = today or timezone.localdate()
    regimes = {r.code: r for r in Regime.objects.all()}
    metrics = {m.code: m for m in Metric.objects.all()}
    items = list(InspectionItem.objects.filter(is_active=True))
    missing = {"activity_day", "cross_learning", "joint_meeting", "mutual_inspection", "daily_help"}
    missing -= set(regimes)
    missing |= {"training", "donation_money", "donation_goods", "projects", "rubber_area"} - set(
        metrics
    )
    if missing or not items:
        raise MissingDefaults(
            f"缺少默认的工作制度、成效指标或互检项目：{'、'.join(sorted(missing))}"
        )
    rules, deadlines = compliance.regime_rules(), {}
    counties = counties_of(scale, seed)
    # The summaries are rebuilt once at the end instead of row by row.
    with transaction.atomic(), summaries.paused():
        writer = writer_for(connection.vendor)
        writer.start()
        seeded = Seeded(writer=writer.name)
        region = staff = None
        if scale.region:
            region, staff = make_region(writer, seeded, scale, seed, today)
        positions = {code: i for i, code in enumerate(sorted(c.code for c in counties), start=1)}
        for index, county in enumerate(counties):
            run = Run(
                scale=scale,
                rng=random.Random(seed if index == 0 else f"{seed}:{county.code}"),
                today=today,
                regimes=regimes,
                metrics=metrics,
                items=items,
                rules=rules,
                deadlines=deadlines,
                writer=writer,
                seeded=seeded,
                county=county,
                region=region,
                position=positions[county.code],
                staff=staff,
            )
            make_organizations(run)
            make_members(run)
            make_pairings(run)
            if index == 0:
                make_users(run)
            make_setup_confirmations(run, run.root)
            make_households(run)
            make_activities(run)
            make_needs(run)
            make_period_figures(run)
        writer.finish()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, so the planner picks the right indexes
    return seeded


def make_region(writer, seeded, scale, seed, today):
    """The city's or province's root, after any other roots, and its staff's login."""
    region = REGIONS[scale.region]
    last_root = Organization.objects.filter(depth=1).order_by("-path").first()
    position = Organization._str2int(last_root.path) + 1 if last_root else 1
    run = Run(
        scale=scale,
        rng=random.Random(f"{seed}:{region.code}"),
        today=today,
        regimes={},
        metrics={},
        items=[],
        rules={},
        deadlines={},
        writer=writer,
        seeded=seeded,
        county=None,
    )
    root = run.row(
        Organization,
        code=region.code,
        name=f"中共{region.name}委员会",
        kind=Kind.COMMITTEE,
        sector=Sector.OTHER,
        path=tree_path("", position),
        depth=1,
        numchild=scale.counties,
    )
    run.save("organizations", Organization, [root])
    name = person_name(run.rng, male=False)
    run.root = root
    run.staff = add_login(run, region.username, Role.COUNTY_STAFF, root, name)
    make_setup_confirmations(run, root)
    return root, run.staff


# Helpers ------------------------------------------------------------------------------------------


def add_months(day, months):
    index = day.year * 12 + day.month - 1 + months
    return day.replace(year=index // 12, month=index % 12 + 1, day=1)


def month_end(day):
    return add_months(day, 1) - datetime.timedelta(days=1)


def pick_day(rng, first, last):
    return first + datetime.timedelta(days=rng.randint(0, (last - first).days))


def person_name(rng, *, male):
    surname = rng.choices(SURNAMES, cum_weights=SURNAME_CUM_WEIGHTS)[0]
    chars = MALE_CHARS if male else FEMALE_CHARS
    given = rng.choice(chars) if rng.random() < 0.3 else rng.choice(chars) + rng.choice(chars)
    return surname + given


def phone_number(rng):
    prefix = rng.choice(["13", "15", "18"]) + str(rng.randint(0, 9))
    return prefix + f"{rng.randint(0, 99_999_999):08d}"


def new_uuid(rng):
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def tree_path(parent_path, position):
    depth = len(parent_path) // Organization.steplen + 1
    return Organization._get_path(parent_path, depth, position)


# Organizations and members -------------------------------------------------------------------------


def make_organizations(run):
    """The county root, the organs' working committee and the townships, then their branches.

    Paths are computed here, siblings numbered in code order as `node_order_by` wants, so the
    tree is the one `add_child` would build, without a query per node. Beside other roots
    (`--force`) the county root goes last, whatever its code.
    """
    rng, scale, county = run.rng, run.scale, run.county
    if run.region is None:
        last_root = Organization.objects.filter(depth=1).order_by("-path").first()
        position = Organization._str2int(last_root.path) + 1 if last_root else 1
        path = tree_path("", position)
    else:
        path = tree_path(run.region.path, run.position)
    root = run.row(
        Organization,
        code=county.code,
        name=f"中共{county.name}委",
        kind=Kind.COUNTY,
        sector=Sector.OTHER,
        path=path,
        depth=len(path) // Organization.steplen,
    )
    organs_committee = run.row(
        Organization,
        code=f"{county.code}-J",
        name=f"{county.name}直机关工委",
        kind=Kind.WORKING_COMMITTEE,
        sector=Sector.ORGAN,
    )
    township_names = rng.sample(TOWNSHIPS, scale.townships)
    townships = [
        run.row(
            Organization,
            code=f"{county.code}-T{i:02d}",
            name=f"{name}党委",
            kind=Kind.COMMITTEE,
            sector=Sector.RURAL,
        )
        for i, name in enumerate(township_names, start=1)
    ]
    run.root, run.townships = root, townships

    # Organ branches: every organ has one; big organs get more, and the biggest a retirees' one.
    if scale.organ_branches <= len(DEMO_ORGANS):
        organs = [(name, 1) for name in DEMO_ORGANS[: scale.organ_branches]]
    else:
        organs = [[name, 1] for name, _ in ORGANS]
        sizes = [size for _, size in ORGANS]
        for _ in range(scale.organ_branches - len(organs)):
            # Big organs draw most of the extra branches, up to six each.
            weights = [
                size**2 if organ[1] < 6 else 0 for organ, size in zip(organs, sizes, strict=True)
            ]
            rng.choices(organs, weights=weights)[0][1] += 1
    organ_sides = []
    for organ, count in organs:
        for k in range(count):
            suffix = "机关" if organ.endswith("局") else ""
            if count == 1:
                name = f"{organ}{suffix}党支部"
            elif k == count - 1 and count >= 3:
                name = f"{organ}离退休干部党支部"
            else:
                name = f"{organ}{suffix}第{ORDINALS[k]}党支部"
            code = f"{county.code}-J{len(organ_sides) + 1:03d}"
            org = run.row(Organization, code=code, name=name, kind=Kind.BRANCH, sector=Sector.ORGAN)
            organ_sides.append(Side(org=org, place=organ, parent=organs_committee))
    run.organs = organ_sides

    # Villages: spread over the townships, a few more in some than in others.
    pool = [head + tail for head in VILLAGE_HEADS for tail in VILLAGE_TAILS] + VILLAGE_EXTRAS
    names = rng.sample(pool, scale.villages)
    shares = [rng.uniform(0.7, 1.3) for _ in townships]
    counts = [max(1, int(scale.villages * s / sum(shares))) for s in shares]
    for _ in range(scale.villages - sum(counts)):
        counts[rng.randrange(len(counts))] += 1
    village_sides = []
    for township, count in zip(townships, counts, strict=True):
        for k in range(1, count + 1):
            place = names[len(village_sides)] + "村"
            org = run.row(
                Organization,
                code=f"{township.code}-V{k:02d}",
                name=f"{place}党支部",
                kind=Kind.BRANCH,
                sector=Sector.RURAL,
            )
            crop = rng.choices(["甘蔗", "橡胶", "茶叶", "芒果", "咖啡"], weights=[5, 4, 2, 2, 1])[0]
            village_sides.append(Side(org=org, place=place, parent=township, crop=crop))
    run.villages = village_sides

    # Number siblings in code order and count children.
    children = {root.code: [organs_committee, *townships]}
    children[organs_committee.code] = [side.org for side in organ_sides]
    for side in village_sides:
        children.setdefault(side.parent.code, []).append(side.org)
    ordered = [root]
    queue = [root]
    while queue:
        parent = queue.pop(0)
        kids = sorted(children.get(parent.code, []), key=lambda org: org.code)
        parent.numchild = len(kids)
        for i, kid in enumerate(kids, start=1):
            kid.path = tree_path(parent.path, i)
            kid.depth = parent.depth + 1
            kid.numchild = 0
            ordered.append(kid)
            queue.append(kid)
    run.save("organizations", Organization, ordered)


def make_members(run):
    rng, scale = run.rng, run.scale
    members = []
    for side in [*run.organs, *run.villages]:
        organ = side.org.sector == Sector.ORGAN
        retired = "离退休" in side.org.name
        low, high = scale.organ_members if organ else scale.village_members
        size = rng.randint(low, high)
        posts = [Post.SECRETARY]
        if size >= 7 and rng.random() < 0.85:
            posts.append(Post.DEPUTY)
        posts += [Post.COMMITTEE] * (rng.randint(2, 4) if size >= 12 else rng.randint(1, 2))
        posts += [Post.MEMBER] * (size - len(posts))
        male_share = 0.58 if organ else 0.76
        service_share = (0.0 if retired else 0.97) if organ else 0.03
        for k, post in enumerate(posts, start=1):
            male = rng.random() < (0.85 if post == Post.SECRETARY and not organ else male_share)
            in_service = rng.random() < service_share
            probationary = post == Post.MEMBER and rng.random() < 0.04
            member = run.row(
                Member,
                code=f"{side.org.code}-{k:03d}",
                name=person_name(rng, male=male),
                gender=Member.Gender.MALE if male else Member.Gender.FEMALE,
                branch_id=side.org.id,
                post=post,
                in_service=in_service,
                status=Member.Status.PROBATIONARY if probationary else Member.Status.FULL,
                phone=phone_number(rng) if post != Post.MEMBER or rng.random() < 0.55 else "",
            )
            side.members.append(member)
            members.append(member)
    run.save("members", Member, members)


# Pairings -----------------------------------------------------------------------------------------


def make_pairings(run):
    """Organ branches help village branches.

    An organ helps one village or more; a few villages have two helpers, and so a few have none.
    """
    rng, scale = run.rng, run.scale
    helpers = [side for side in run.organs if "离退休" not in side.org.name]
    rng.shuffle(helpers)
    shuffled = rng.sample(run.villages, len(run.villages))
    twice = max(1, scale.pairings // 20)
    once = shuffled[: scale.pairings - twice]
    villages = once + rng.sample(once[1:], twice)
    launch = run.start
    window = (run.last_day - launch).days
    pairings, taken = [], set()
    for i in range(scale.pairings):
        helped = villages[i % len(villages)]
        j = i
        while (helpers[j % len(helpers)].org.code, helped.org.code) in taken:
            j += 1  # a village paired twice gets a second, different helper
        helper = helpers[j % len(helpers)]
        taken.add((helper.org.code, helped.org.code))
        start = launch
        if i > 0 and rng.random() < 0.35:
            start += datetime.timedelta(days=rng.randint(1, min(120, window // 4)))
        status, end, stop = Pairing.Status.ACTIVE, None, run.last_day
        latest = run.last_day - datetime.timedelta(days=30)
        fate = rng.random()
        if i > 0 and fate < 0.05:
            status = Pairing.Status.ENDED
            end = start + datetime.timedelta(days=int(window * rng.uniform(0.4, 0.8)))
            end = stop = max(start, min(end, latest))
        elif i > 0 and fate < 0.08:
            status = Pairing.Status.SUSPENDED  # stopped logging some months ago
            stop = start + datetime.timedelta(days=int(window * rng.uniform(0.5, 0.9)))
            stop = max(start, min(stop, latest))
        pairing = run.row(
            Pairing,
            code=f"{run.county.pairing_prefix}-{i + 1:03d}",
            helper_id=helper.org.id,
            helped_id=helped.org.id,
            start_date=start,
            end_date=end,
            status=status,
            agreement=(
                f"甲方{helper.org.name}与乙方{helped.org.name}本着“优势互补、互惠互益”的原则结成"
                "互助共建对子，共同坚持集体活动日、交叉学习月、季度联席会、年度党建互检和日常党建"
                "互助五项制度。"
            ),
            goals=(
                f"建强{helped.org.name}班子，帮助{helped.place}发展{helped.crop}产业，"
                "每年为群众办好两件以上实事。"
            ),
            helper_liaison_id=rng.choice(helper.leaders[1:] or helper.leaders).id,
            helped_liaison_id=rng.choice(helped.leaders[:2]).id,
        )
        pairings.append(pairing)
        diligence = 0.95 if i == 0 else min(0.99, max(0.5, rng.gauss(0.88, 0.08)))
        breadth = 0.9 if i == 0 else (rng.uniform(0.2, 0.4) if rng.random() < 0.1 else 1.0)
        plan = PairingPlan(
            pairing=pairing,
            helper=helper,
            helped=helped,
            stop=stop,
            diligence=diligence,
            punctuality=0.93 if i == 0 else min(0.99, max(0.6, rng.gauss(0.9, 0.07))),
            helper_pool=core_pool(rng, helper, breadth),
            helped_pool=core_pool(rng, helped, breadth),
        )
        if i > 0 and status == Pairing.Status.ACTIVE:
            flag = rng.random()
            if flag < 0.03:
                plan.donations_only_since = add_months(run.today.replace(day=1), -6)
            elif flag < 0.08:
                plan.few_kinds = True
        run.plans.append(plan)
    run.save("pairings", Pairing, pairings)
    run.save(
        "suspensions",
        PairingSuspension,
        [
            run.row(
                PairingSuspension,
                pairing_id=plan.pairing.id,
                start_date=plan.stop + datetime.timedelta(days=1),
                reason="村“两委”换届，暂停共建活动",
            )
            for plan in run.plans
            if plan.pairing.status == Pairing.Status.SUSPENDED
        ],
    )


def core_pool(rng, side, breadth):
    """The members who turn up: everyone, or for a narrow pairing the leaders and a few more."""
    rest = [m for m in side.members if m.post == Post.MEMBER]
    keep = max(2, round(len(rest) * breadth))
    return side.leaders + rng.sample(rest, min(keep, len(rest)))


# Users --------------------------------------------------------------------------------------------


def make_users(run):
    """One demo login per role; the two secretaries are partners in the first pairing."""
    rng = run.rng
    plan = run.demo_plan = run.plans[0]
    township = plan.helped.parent
    specs = [
        ("county", Role.COUNTY_STAFF, run.root, person_name(rng, male=True)),
        ("township", Role.SUPERVISOR, township, person_name(rng, male=False)),
        ("organ_secretary", Role.SECRETARY, plan.helper.org, plan.helper.secretary.name),
        ("village_secretary", Role.SECRETARY, plan.helped.org, plan.helped.secretary.name),
        ("leader", Role.VIEWER, run.root, person_name(rng, male=True)),
        ("auditor", Role.AUDITOR, run.root, person_name(rng, male=False)),
        # The system administrator by role, not a superuser: configuration, not the records.
        ("admin", Role.SYSTEM_ADMIN, run.root, person_name(rng, male=True)),
    ]
    for username, role, org, name in specs:
        add_login(run, username, role, org, name)
    run.staff = run.users["county"]


def add_login(run, username, role, org, name):
    """A demo login with `role` at `org`; an existing user keeps its password."""
    user = User.objects.filter(username=username).first()
    existing = user is not None
    if user is None:
        user = User.objects.create(
            username=username,
            password=demo_password(),
            last_name=name[:1],
            first_name=name[1:],
            is_staff=role == Role.SYSTEM_ADMIN,
        )
        run.counts["users"] = run.counts.get("users", 0) + 1
    run.save(
        "assignments",
        Assignment,
        [run.row(Assignment, user_id=user.pk, organization_id=org.id, role=role)],
    )
    run.users[username] = user
    run.logins.append(
        {
            "username": username,
            "role": Role(role).label,
            "organization": org.name,
            "password": "（已存在，未改）" if existing else DEMO_PASSWORD,
        }
    )
    return user


@functools.cache
def demo_password():
    return make_password(DEMO_PASSWORD)  # hashed once: every demo login shares it


def make_setup_confirmations(run, root):
    """A running county: its staff went through the set-up checklist long ago."""
    now = timezone.now()
    run.save(
        "setup_confirmations",
        SetupConfirmation,
        [
            run.row(
                SetupConfirmation,
                organization_id=root.id,
                step=step,
                confirmed_by_id=run.staff.pk,
                confirmed_at=now,
            )
            for step in SetupStep
        ],
    )


# Households and one-helps-one -----------------------------------------------------------------------


def make_households(run):
    rng = run.rng
    households, helps = [], []
    helpers_of = {}
    for plan in run.plans:
        helpers_of.setdefault(plan.helped.org.code, []).append(plan)
    for side in run.villages:
        plans = helpers_of.get(side.org.code)
        if not plans:
            continue
        for _ in range(rng.randint(*run.scale.households)):
            household = run.row(
                Household,
                village_id=side.org.id,
                head_name=person_name(rng, male=rng.random() < 0.8),
                group=f"第{ORDINALS[rng.randint(0, 9)]}村民小组",
                size=rng.randint(1, 7),
                situation=rng.choice(SITUATIONS),
            )
            households.append(household)
            plan = rng.choice(plans)
            helpers = [m for m in plan.helper.members if m.in_service] or plan.helper.members
            start = plan.pairing.start_date + datetime.timedelta(days=rng.randint(0, 60))
            start = min(start, plan.stop)
            end = plan.pairing.end_date
            if end is None and rng.random() < 0.15 and (plan.stop - start).days > 200:
                end = start + datetime.timedelta(days=rng.randint(180, (plan.stop - start).days))
            helps.append(
                run.row(
                    HelpPairing,
                    member_id=rng.choice(helpers).id,
                    household_id=household.id,
                    start_date=start,
                    end_date=end,
                )
            )
    run.save("households", Household, households)
    run.save("help_pairings", HelpPairing, helps)


# Activities ---------------------------------------------------------------------------------------


@dataclass
class Logged:
    """An activity waiting to be written, with what hangs off it."""

    activity: Activity
    members: list
    outcomes: list
    inspection: dict | None = None


def make_activities(run):
    rng = run.rng
    drought_years = rng.sample(
        range(run.start.year, run.today.year + 1), max(1, run.scale.years // 2)
    )
    logged = []
    for plan in run.plans:
        logged += pairing_activities(run, plan, drought_years)
    run.save("activities", Activity, [item.activity for item in logged])
    # Participations are the most numerous rows by far: plain tuples, ids taken in one block.
    ids = itertools.count(run.writer.take(Participation, sum(len(i.members) for i in logged)))
    participations = [
        (next(ids), item.activity.id, member.id) for item in logged for member in item.members
    ]
    run.save("participations", Participation, participations, ("id", "activity_id", "member_id"))
    del participations
    outcomes = [
        run.row(Outcome, activity_id=item.activity.id, metric_id=run.metrics[code].pk, value=value)
        for item in logged
        for code, value in item.outcomes
    ]
    run.save("outcomes", Outcome, outcomes)
    make_inspections(run, [item for item in logged if item.inspection])


def pairing_activities(run, plan, drought_years):
    """Month by month, what one pairing did: its regimes (most of the time), help and events."""
    rng = run.rng
    start, stop = plan.pairing.start_date, plan.stop
    items = []

    def log(regime, kind, first, last):
        first, last = max(first, start), min(last, stop)
        if first <= last:
            item = new_activity(run, plan, regime, kind, pick_day(rng, first, last))
            items.append(item)
            if regime == "joint_meeting":
                plan.joint_meetings.append(item.activity)

    month = start.replace(day=1)
    while month <= stop:
        last = month_end(month)
        quiet = plan.donations_only_since is not None and month >= plan.donations_only_since
        if quiet:
            for _ in range(rng.choice([0, 1, 1, 2])):
                kind = rng.choice([KINDS_BY_KEY["help_fertilizer"], KINDS_BY_KEY["help_books"]])
                log(None, kind, month, last)
        else:
            for regime in ("activity_day", "cross_learning"):
                if rng.random() < plan.diligence:
                    log(regime, pick_kind(run, plan, regime, month), month, last)
            if month.month % 3 == 0 and rng.random() < plan.diligence:
                log("joint_meeting", KINDS_BY_KEY["joint"], add_months(month, -2), last)
            if not plan.few_kinds:
                for _ in range(poisson(rng, 0.75)):
                    log("daily_help", pick_kind(run, plan, "daily_help", month), month, last)
                for _ in range(poisson(rng, 0.45)):
                    log(None, pick_kind(run, plan, None, month), month, last)
                yearly_events(run, plan, month, drought_years, log)
            if month.month == 11:
                items.extend(inspection_activities(run, plan, month.year))
        month = add_months(month, 1)
    return items


def yearly_events(run, plan, month, drought_years, log):
    rng, year = run.rng, month.year
    if month.month == 1 and rng.random() < 0.65:
        log(None, KINDS_BY_KEY["spring"], D(year, 1, 10), D(year, 2, 8))
    if month.month == 6 and rng.random() < 0.55:
        log("activity_day", KINDS_BY_KEY["day_july"], D(year, 6, 20), D(year, 7, 5))
    if month.month == 3 and year in drought_years and rng.random() < 0.6:
        log(None, KINDS_BY_KEY["drought"], D(year, 3, 1), D(year, 5, 31))
    if month.month == 8 and rng.random() < 0.25:
        log(None, KINDS_BY_KEY["study_aid"], D(year, 8, 15), D(year, 9, 15))


def poisson(rng, mean):
    count, threshold, product = 0, math.exp(-mean), rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


# The generator draws millions of times at province scale: what does not depend on the draw is
# worked out once (cumulative weights give `choices` the very same picks as weights do).


def pick_kind(run, plan, regime, month):
    categories, cumulative = category_weights(regime, plan.few_kinds)
    category = run.rng.choices(categories, cum_weights=cumulative)[0]
    kinds, cumulative = kinds_of(regime, category, month.month)
    return run.rng.choices(kinds, cum_weights=cumulative)[0]


@functools.cache
def category_weights(regime, few_kinds):
    weights = {"study": 1} if few_kinds else CATEGORY_WEIGHTS[regime]
    return list(weights), list(itertools.accumulate(weights.values()))


@functools.cache
def kinds_of(regime, category, month):
    kinds = [
        k
        for k in KINDS
        if k.regime == regime
        and k.category == category
        and not k.event
        and (not k.months or month in k.months)
    ]
    if not kinds:
        kinds = [k for k in KINDS if k.regime == regime and not k.event and not k.months]
    return kinds, list(itertools.accumulate(k.weight for k in kinds))


def study_topic(rng, day):
    return rng.choice(topics_on(day))


@functools.cache
def topics_on(day):
    return [
        text.format(year=day.year)
        for text, first, last, months in STUDY_TOPICS
        if (first is None or first <= day)
        and (last is None or day <= last)
        and (months is None or day.month in months)
    ]


# The words a kind's title and summary draw from a list, in the order they are drawn.
WORD_LISTS = (
    ("lecture", LECTURES),
    ("practice", PRACTICES),
    ("organ_practice", ORGAN_PRACTICES),
    ("subject", SUBJECTS),
    ("skill", SKILLS),
    ("fruit", FRUITS),
    ("project", PROJECTS),
    ("issue", ISSUES),
)


@functools.cache
def word_lists(kind):
    text = kind.title + kind.summary
    return [(key, choices) for key, choices in WORD_LISTS if "{" + key + "}" in text], (
        "{topic}" in text
    )


def place_of(rng, kind, plan, county):
    village, organ = plan.helped.place, plan.helper.place
    match kind.place:
        case "village":
            return rng.choice(
                [f"{village}党员活动室", f"{village}村委会会议室", f"{village}文化广场"]
            )
        case "organ":
            return rng.choice([f"{organ}会议室", f"{organ}党员活动室"])
        case "field":
            return (
                f"{village}{plan.helped.crop}种植基地"
                if rng.random() < 0.5
                else f"{village}田间地头"
            )
        case "homes":
            return f"{village}各村民小组"
        case "cemetery":
            return f"{county}烈士陵园"
    return rng.choice([f"{village}党员活动室", f"{organ}会议室", f"{village}村委会会议室"])


def new_activity(
    run, plan, regime, kind, day, *, logged_by=None, title=None, summary=None, place=None
):
    """One activity of `kind` on `day`, with its people, figures, words and workflow stamps."""
    rng = run.rng
    helper, helped = plan.helper, plan.helped
    if kind.category == Category.MEETING and regime == "joint_meeting":
        people = rng.sample(helper.leaders, min(len(helper.leaders), rng.randint(2, 4)))
        people += rng.sample(helped.leaders, min(len(helped.leaders), rng.randint(2, 4)))
    else:
        small = kind.category in (Category.DONATION, Category.PROJECT, Category.TRAINING)
        high_h, high_v = (4, 5) if small else (8, 11)
        people = rng.sample(plan.helper_pool, min(len(plan.helper_pool), rng.randint(2, high_h)))
        people += rng.sample(plan.helped_pool, min(len(plan.helped_pool), rng.randint(2, high_v)))
    villagers = rng.randint(*kind.villagers) if kind.villagers[1] else 0
    outcomes, words = [], {}
    for code, low, high, step in kind.outcomes:
        value = villagers if low == "villagers" else rng.randrange(low, high + 1, step)
        if code in run.metrics and value:
            outcomes.append((code, Decimal(value)))
        words[METRIC_WORD.get(code, code)] = value
    quarter = (day.month - 1) // 3
    words |= {
        "helper": helper.org.name,
        "helped": helped.org.name,
        "organ": helper.place,
        "village": helped.place,
        "leader": helper.secretary.name,
        "reader": rng.choice([helper, helped]).secretary.name,
        "people": len(people),
        "villagers": villagers,
        "year": day.year,
        "quarter": f"第{ORDINALS[quarter]}季度",
        "party_age": day.year - 1921,
        "crop": helped.crop if kind.key == "forum" or rng.random() < 0.4 else rng.choice(CROPS),
        "n": rng.randint(*kind.n) if kind.n[1] else 0,
    }
    lists, topic = word_lists(kind)
    for key, choices in lists:
        words[key] = rng.choice(choices)
    if topic:
        words["topic"] = study_topic(rng, day)
    if logged_by is None:
        logged_by = helper if rng.random() < 0.55 else helped
    on_behalf = logged_by is helped and rng.random() < 0.04
    activity = run.row(
        Activity,
        pairing_id=plan.pairing.id,
        regime_id=run.regimes[regime].pk if regime else None,
        category=kind.category,
        date=day,
        place=place or place_of(rng, kind, plan, run.county.name),
        title=title or kind.title.format_map(words),
        summary=summary or kind.summary.format_map(words),
        villager_count=villagers,
        logged_by_branch_id=logged_by.org.id,
        on_behalf_by_id=helped.parent.id if on_behalf else None,
        created_at=None,  # stamped below
        client_id=new_uuid(rng),
    )
    stamp(run, plan, activity, logged_by=logged_by)
    return Logged(activity=activity, members=people, outcomes=outcomes)


def stamp(run, plan, activity, *, logged_by):
    """Draft → submitted → confirmed | returned, with times that meet the DB constraints.

    On time is stamped as the workflow stamps it: submitted within the grace days after the end
    of the activity's compliance period (its month, or its quarter or year by the regime's cadence).
    """
    rng, day = run.rng, activity.date
    age = (run.last_day - day).days
    deadline = run.deadline(activity.regime_id, day)
    if rng.random() < (0.25 if age < 10 else 0.006):
        activity.status = Status.DRAFT
        activity.created_at = run.at(day, rng.randint(18, 22), rng.randint(0, 59))
        return
    if rng.random() < plan.punctuality:
        delay = rng.choice([0, 0, 1, 1, 2, 3, 4, 6])
    else:
        delay = (deadline - day).days + rng.randint(1, 40)
    submitted_on = min(day + datetime.timedelta(days=delay), run.last_day)
    activity.submitted_at = run.at(submitted_on, rng.randint(8, 20), rng.randint(0, 59))
    activity.on_time = submitted_on <= deadline  # as compliance.is_on_time has it
    activity.created_at = max(
        run.at(day, 7), activity.submitted_at - datetime.timedelta(minutes=rng.randint(3, 90))
    )
    activity.status = Status.SUBMITTED
    confirmed_on = submitted_on + datetime.timedelta(days=rng.choice([0, 1, 1, 2, 3, 5, 8, 12]))
    if confirmed_on > run.last_day or rng.random() < 0.015:
        return
    confirmed_at = run.at(confirmed_on, rng.randint(8, 20), rng.randint(0, 59))
    confirmed_at = max(confirmed_at, activity.submitted_at + datetime.timedelta(minutes=20))
    if rng.random() < (0.08 if age < 60 else 0.008):
        activity.status = Status.RETURNED
        activity.return_reason = rng.choice(RETURN_REASONS)
    else:
        activity.status = Status.CONFIRMED
        activity.confirmed_at = confirmed_at
    # The demo secretaries' own pairing is logged and confirmed by their logins.
    if plan is run.demo_plan:
        mine, theirs = (
            ("organ_secretary", "village_secretary")
            if logged_by is plan.helper
            else ("village_secretary", "organ_secretary")
        )
        activity.created_by_id = run.users["township" if activity.on_behalf_by_id else mine].pk
        if activity.status == Status.CONFIRMED:
            activity.confirmed_by_id = run.users[theirs].pk


# Inspections --------------------------------------------------------------------------------------


def inspection_activities(run, plan, year):
    """Each year each side inspects the other, mostly in November and December."""
    rng = run.rng
    items = []
    for inspector, inspected, chance in (
        (plan.helper, plan.helped, 0.9),
        (plan.helped, plan.helper, 0.75),
    ):
        if rng.random() > chance * plan.diligence:
            continue
        day = pick_day(rng, D(year, 11, 5), D(year, 12, 25))
        if not plan.pairing.start_date <= day <= plan.stop:
            continue
        found = rng.sample(FINDINGS, rng.choices([0, 1, 2, 3], weights=[30, 35, 25, 10])[0])
        findings = f"{inspected.org.name}班子团结，“三会一课”基本落实，共建工作有序开展。"
        if found:
            findings += "检查发现：" + "；".join(f[1] for f in found) + "。"
        else:
            findings += "各项制度落实到位，台账资料齐全，未发现明显问题。"
        item = new_activity(
            run,
            plan,
            "mutual_inspection",
            INSPECTION_KIND,
            day,
            logged_by=inspector,
            place=f"{inspected.place}党员活动室",
            title=f"{year}年度党建互检：{inspector.org.name}检查{inspected.org.name}",
            summary=(
                f"{inspector.org.name}对照互检项目，到{inspected.place}查阅台账资料、察看阵地、"
                f"走访党员群众，对{inspected.org.name}{year}年党建工作进行检查。"
            ),
        )
        item.inspection = {
            "plan": plan,
            "inspector": inspector,
            "inspected": inspected,
            "findings": findings,
            "found": found,
        }
        items.append(item)
    return items


INSPECTION_KIND = ActivityKind(
    "inspection", "mutual_inspection", Category.INSPECTION, "", "", place="either"
)


def make_inspections(run, logged):
    rng = run.rng
    inspections, scores, rectifications = [], [], []
    for item in logged:
        spec, activity = item.inspection, item.activity
        plan = spec["plan"]
        inspection = run.row(
            Inspection,
            pairing_id=activity.pairing_id,
            activity_id=activity.id,
            year=activity.date.year,
            inspector_id=spec["inspector"].org.id,
            inspected_id=spec["inspected"].org.id,
            date=activity.date,
            findings=spec["findings"],
            satisfaction=rng.choices(
                list(Inspection.Satisfaction),
                weights=[75, 20, 5] if plan.diligence > 0.8 else [50, 38, 12],
            )[0],
        )
        inspections.append(inspection)
        deductions = {}
        for item_name, finding, _ in spec["found"]:
            deductions.setdefault(item_name, []).append(finding)
        for check in run.items:
            if check.name in deductions:
                lost = Decimal(rng.choice(["1", "1.5", "2", "2.5", "3", "4"]))
                remark = "；".join(deductions[check.name]) + f"，扣{lost}分"
            else:
                lost, remark = Decimal(rng.choice(["0", "0", "0", "0", "0.5", "1"])), ""
            score = max(Decimal(0), check.max_score - lost)
            scores.append(
                run.row(
                    InspectionScore,
                    inspection_id=inspection.id,
                    item_id=check.pk,
                    score=score,
                    remark=remark,
                )
            )
        for _, _, task in spec["found"]:
            rectifications.append(new_rectification(run, inspection, spec["inspected"], task))
    run.save("inspections", Inspection, inspections)
    run.save("inspection_scores", InspectionScore, scores)
    run.save("rectifications", Rectification, rectifications)


def new_rectification(run, inspection, inspected, task):
    rng = run.rng
    due = inspection.date + datetime.timedelta(days=rng.choice([30, 45, 60, 90]))
    Rect = Rectification.Status
    if due < run.last_day - datetime.timedelta(days=30):
        status = rng.choices(
            [Rect.VERIFIED, Rect.DONE, Rect.IN_PROGRESS, Rect.OPEN], [70, 15, 8, 7]
        )[0]
    else:
        status = rng.choices([Rect.OPEN, Rect.IN_PROGRESS, Rect.DONE], [40, 35, 25])[0]
    done_at = verified_at = None
    if status in (Rect.DONE, Rect.VERIFIED):
        first = inspection.date + datetime.timedelta(days=7)
        done_at = pick_day(
            rng, min(first, run.last_day), min(due + datetime.timedelta(days=15), run.last_day)
        )
    if status == Rect.VERIFIED:
        verified_at = pick_day(
            rng, done_at, min(done_at + datetime.timedelta(days=30), run.last_day)
        )
    return run.row(
        Rectification,
        inspection_id=inspection.id,
        description=task,
        owner_id=rng.choice(inspected.leaders).id,
        due_date=due,
        status=status,
        done_at=done_at,
        verified_at=verified_at,
    )


# Needs and commitments ----------------------------------------------------------------------------


def make_needs(run):
    rng = run.rng
    needs, commitments = [], []
    NeedStatus, Done = Need.Status, Commitment.Status
    for plan in run.plans:
        start, stop = plan.pairing.start_date, plan.stop
        meetings = plan.joint_meetings
        for title, description, promise, amounts in rng.sample(
            NEEDS, rng.randint(*run.scale.needs)
        ):
            source = rng.choice(meetings) if meetings and rng.random() < 0.4 else None
            raised_on = source.date if source else pick_day(rng, start, stop)
            words = {
                "km": rng.choice(["1.2", "1.5", "2.3", "3", "0.8"]),
                "area": rng.randrange(200, 1500, 50),
                "households": rng.randint(20, 90),
                "students": rng.randint(3, 9),
            }
            age = (run.last_day - raised_on).days
            if plan.pairing.status != Pairing.Status.ACTIVE or age > 240:
                status = rng.choices(
                    [NeedStatus.DONE, NeedStatus.COMMITTED, NeedStatus.CLOSED, NeedStatus.OPEN],
                    [65, 15, 10, 10],
                )[0]
            else:
                status = rng.choices(
                    [NeedStatus.OPEN, NeedStatus.COMMITTED, NeedStatus.DONE], [45, 40, 15]
                )[0]
            need = run.row(
                Need,
                pairing_id=plan.pairing.id,
                title=title,
                description=description.format_map(words),
                raised_by_id=(plan.helped.org if rng.random() < 0.85 else plan.helper.org).id,
                raised_on=raised_on,
                source_activity_id=source.id if source else None,
                status=status,
            )
            needs.append(need)
            if status not in (NeedStatus.COMMITTED, NeedStatus.DONE):
                continue
            due = raised_on + datetime.timedelta(days=rng.randint(60, 240))
            states = [Done.PLANNED, Done.IN_PROGRESS, Done.CANCELLED]
            state = Done.DONE if status == NeedStatus.DONE else rng.choices(states, [40, 55, 5])[0]
            commitments.append(
                new_commitment(
                    run, plan, need, promise.format_map(words), amounts, raised_on, due, state
                )
            )
        # A deed or two the helping side offers unasked.
        for _ in range(rng.randint(0, 2)):
            offered = pick_day(rng, start, stop)
            due = offered + datetime.timedelta(days=rng.randint(30, 180))
            state = rng.choices([Done.DONE, Done.IN_PROGRESS, Done.PLANNED], [60, 25, 15])[0]
            promise = rng.choice(
                ["捐赠图书200册，充实农家书屋", "为村小学捐赠课桌椅50套", "帮助建设党建宣传栏"]
            )
            commitments.append(
                new_commitment(run, plan, None, promise, (5000, 30000), offered, due, state)
            )
    run.save("needs", Need, needs)
    run.save("commitments", Commitment, commitments)


def new_commitment(run, plan, need, title, amounts, since, due, state):
    rng = run.rng
    done_on = None
    if state == Commitment.Status.DONE:
        first = min(since + datetime.timedelta(days=20), run.last_day)
        done_on = pick_day(
            rng, first, max(first, min(due + datetime.timedelta(days=30), run.last_day))
        )
    return run.row(
        Commitment,
        pairing_id=plan.pairing.id,
        need_id=need.id if need else None,
        title=title,
        amount=Decimal(rng.randrange(amounts[0], amounts[1] + 1, 500)) if amounts else None,
        due_date=due,
        status=state,
        progress=COMMITMENT_PROGRESS[state],
        done_on=done_on,
    )


# Stock figures ------------------------------------------------------------------------------------


def make_period_figures(run):
    """民营橡胶面积 per rubber-growing village per year, entered by county staff."""
    rng = run.rng
    metric = run.metrics["rubber_area"]
    figures = []
    for side in run.villages:
        if side.crop != "橡胶" and rng.random() < 0.5:
            continue
        area = Decimal(rng.randrange(2000, 18000 if side.crop == "橡胶" else 6000, 5)) / 10
        for year in range(run.start.year, run.today.year + 1):
            period = Period.parse(str(year))
            figures.append(
                run.row(
                    PeriodFigure,
                    organization_id=side.org.id,
                    metric_id=metric.pk,
                    period=period.code,
                    period_start=period.start,
                    period_end=period.end,
                    value=area,
                    entered_by_id=run.staff.pk,
                )
            )
            growth = Decimal(rng.randint(1010, 1080)) / 1000
            area = (area * growth).quantize(Decimal("0.1"))
    run.save("period_figures", PeriodFigure, figures)
